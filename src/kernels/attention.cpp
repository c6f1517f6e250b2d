#include "kernels/attention.h"

#include <cmath>

#include "kernels/kv_rows.h"
#include "kernels/ops.h"

namespace lumen {

void attend(const AttentionHead& h, float* scores, float* out) {
  if (kernel_isa() != Isa::Scalar) return attend_avx2(h, scores, out);
  attend_reference(h, scores, out);
}

void attend_reference(const AttentionHead& h, float* scores, float* out) {
  const KvRowOps& ops = kv_row_ops_scalar();
  const float norm = std::sqrt(float(h.head_dim));
  const int32_t first = h.first_position, count = h.n_positions - first;
  for (int32_t p = first; p < h.n_positions; ++p)
    scores[p - first] = ops.dot(h.query, h.row(h.keys, p), h.keys.type, h.head_dim) / norm;
  if (h.alibi_slope != 0.0f)
    for (int32_t p = first; p < h.n_positions; ++p) scores[p - first] += h.alibi_slope * float(p - (h.n_positions - 1));
  softmax(scores, count);
  for (int32_t i = 0; i < h.head_dim; ++i) out[i] = 0.0f;
  for (int32_t p = first; p < h.n_positions; ++p)
    ops.axpy(scores[p - first], h.row(h.values, p), h.values.type, h.head_dim, out);
}

}  // namespace lumen
