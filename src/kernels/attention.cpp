#include "kernels/attention.h"

#include <cmath>

#include "kernels/ops.h"

namespace lumen {

void attend(const AttentionHead& h, float* scores, float* out) {
  const float norm = std::sqrt(float(h.head_dim));
  for (int32_t p = 0; p < h.n_positions; ++p) {
    const float* k = h.keys + h.offset(p);
    float dot = 0.0f;
    for (int32_t i = 0; i < h.head_dim; ++i) dot += h.query[i] * k[i];
    scores[p] = dot / norm;
  }
  softmax(scores, h.n_positions);
  for (int32_t i = 0; i < h.head_dim; ++i) out[i] = 0.0f;
  for (int32_t p = 0; p < h.n_positions; ++p) {
    const float* v = h.values + h.offset(p);
    const float a = scores[p];
    for (int32_t i = 0; i < h.head_dim; ++i) out[i] += a * v[i];
  }
}

}  // namespace lumen
