#include "kernels/attention.h"

#include <cmath>

#include "kernels/cpu_features.h"
#include "kernels/kv_rows.h"
#include "kernels/ops.h"

namespace lumen {

void attend(const KvHead& kv, std::span<const AttentionQuery> queries, float* scratch) {
  if (kernel_isa() == Isa::Scalar) {
    for (const AttentionQuery& q : queries) attend_reference(kv, q, scratch);
  } else {
    attend_avx2(kv, queries, scratch);
  }
}

void attend_one(const KvHead& kv, const AttentionQuery& q, float* scratch) {
  if (kernel_isa() == Isa::Scalar) attend_reference(kv, q, scratch);
  else attend_one_avx2(kv, q, scratch);
}

void attend_reference(const KvHead& kv, const AttentionQuery& q, float* scores) {
  const KvRowOps& ops = kv_row_ops_scalar();
  const float norm = std::sqrt(float(kv.head_dim));
  const int32_t first = q.first_position, count = q.n_positions - first;
  for (int32_t p = first; p < q.n_positions; ++p)
    scores[p - first] = ops.dot(q.query, kv.row(kv.keys, p), kv.keys.type, kv.head_dim) / norm;
  if (q.alibi_slope != 0.0f)
    for (int32_t p = first; p < q.n_positions; ++p) scores[p - first] += q.alibi_slope * float(p - (q.n_positions - 1));
  softmax_reference(scores, count);
  for (int32_t i = 0; i < kv.head_dim; ++i) q.out[i] = 0.0f;
  for (int32_t p = first; p < q.n_positions; ++p)
    ops.axpy(scores[p - first], kv.row(kv.values, p), kv.values.type, kv.head_dim, q.out);
}

}  // namespace lumen
