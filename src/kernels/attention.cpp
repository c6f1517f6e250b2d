#include "kernels/attention.h"

#include <cmath>

#include "kernels/ops.h"

namespace lumen {
namespace {

float dot(const float* q, const uint8_t* k, DType type, int32_t n) {
  float sum = 0.0f;
  if (type == DType::F32) {
    const float* kf = reinterpret_cast<const float*>(k);
    for (int32_t i = 0; i < n; ++i) sum += q[i] * kf[i];
  } else {
    const uint16_t* kh = reinterpret_cast<const uint16_t*>(k);
    for (int32_t i = 0; i < n; ++i) sum += q[i] * f16_to_f32(kh[i]);
  }
  return sum;
}

// out += a * v
void accumulate(float a, const uint8_t* v, DType type, int32_t n, float* out) {
  if (type == DType::F32) {
    const float* vf = reinterpret_cast<const float*>(v);
    for (int32_t i = 0; i < n; ++i) out[i] += a * vf[i];
  } else {
    const uint16_t* vh = reinterpret_cast<const uint16_t*>(v);
    for (int32_t i = 0; i < n; ++i) out[i] += a * f16_to_f32(vh[i]);
  }
}

}  // namespace

void attend(const AttentionHead& h, float* scores, float* out) {
  const float norm = std::sqrt(float(h.head_dim));
  const int32_t first = h.first_position, count = h.n_positions - first;
  for (int32_t p = first; p < h.n_positions; ++p)
    scores[p - first] = dot(h.query, h.row(h.keys, p), h.keys.type, h.head_dim) / norm;
  if (h.alibi_slope != 0.0f)
    for (int32_t p = first; p < h.n_positions; ++p) scores[p - first] += h.alibi_slope * float(p - (h.n_positions - 1));
  softmax(scores, count);
  for (int32_t i = 0; i < h.head_dim; ++i) out[i] = 0.0f;
  for (int32_t p = first; p < h.n_positions; ++p)
    accumulate(scores[p - first], h.row(h.values, p), h.values.type, h.head_dim, out);
}

}  // namespace lumen
