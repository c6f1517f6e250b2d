// The attention of a single query (attend_one_avx2) with AVX2 + FMA + F16C: eight values at a
// time, tails through the scalar formula. Compiled for that target whatever the build flags,
// and used only where the CPU has it.
#include <cmath>

#include "kernels/attention.h"
#include "kernels/ops.h"
#include "util/error.h"

#if defined(__x86_64__)
#include "kernels/target_avx2_begin.h"

#include "kernels/avx2_reduce.h"
#include "kernels/kv_load_avx2.h"

namespace lumen {
namespace {

using kv_load::load8;
using kv_load::value_at;

// Eight values of a row whose type is known at compile time (the attention loops below).
template <DType T>
inline __m256 load8(const uint8_t* row, int32_t i) {
  return load8(row, T, i);
}

// Scores of positions p .. p + R - 1 (R independent FMA chains, one query load for R rows).
template <DType T, int R>
inline void scores_at(const KvHead& kv, const AttentionQuery& q, int32_t p, float scale, float* scores) {
  const uint8_t* k[R];
  __m256 acc[R];
  for (int r = 0; r < R; ++r) {
    k[r] = kv.row(kv.keys, p + r);
    acc[r] = _mm256_setzero_ps();
  }
  int32_t i = 0;
  for (; i + 8 <= kv.head_dim; i += 8) {
    const __m256 qv = _mm256_loadu_ps(q.query + i);
    for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_ps(qv, load8<T>(k[r], i), acc[r]);
  }
  for (int r = 0; r < R; ++r) {
    float sum = hsum(acc[r]);
    for (int32_t j = i; j < kv.head_dim; ++j) sum += q.query[j] * value_at(k[r], T, j);
    scores[r] = sum / scale;
  }
}

// out[i .. i + 8W) = sum over positions of score * value, W registers held across positions.
template <DType T, int W>
inline void weighted_values(const KvHead& kv, const AttentionQuery& q, const float* scores, int32_t i) {
  __m256 acc[W];
  for (int c = 0; c < W; ++c) acc[c] = _mm256_setzero_ps();
  for (int32_t p = q.first_position; p < q.n_positions; ++p) {
    const __m256 s = _mm256_set1_ps(scores[p - q.first_position]);
    const uint8_t* v = kv.row(kv.values, p);
    for (int c = 0; c < W; ++c) acc[c] = _mm256_fmadd_ps(s, load8<T>(v, i + 8 * c), acc[c]);
  }
  for (int c = 0; c < W; ++c) _mm256_storeu_ps(q.out + i + 8 * c, acc[c]);
}

// attention.h's attend_one_avx2 for one key type and one value type: the rows' types are fixed
// for the whole cache, so the inner loops carry no type dispatch and no calls.
template <DType K, DType V>
void attend_typed(const KvHead& kv, const AttentionQuery& q, float* scores) {
  const float scale = std::sqrt(float(kv.head_dim));
  const int32_t first = q.first_position, count = q.n_positions - first;
  int32_t p = first;
  for (; p + 4 <= q.n_positions; p += 4) scores_at<K, 4>(kv, q, p, scale, scores + (p - first));
  for (; p < q.n_positions; ++p) scores_at<K, 1>(kv, q, p, scale, scores + (p - first));
  if (q.alibi_slope != 0.0f)
    for (p = first; p < q.n_positions; ++p) scores[p - first] += q.alibi_slope * float(p - (q.n_positions - 1));
  softmax(scores, count);
  int32_t i = 0;
  for (; i + 64 <= kv.head_dim; i += 64) weighted_values<V, 8>(kv, q, scores, i);
  for (; i + 8 <= kv.head_dim; i += 8) weighted_values<V, 1>(kv, q, scores, i);
  for (; i < kv.head_dim; ++i) {
    float sum = 0.0f;
    for (p = first; p < q.n_positions; ++p) sum += scores[p - first] * value_at(kv.row(kv.values, p), V, i);
    q.out[i] = sum;
  }
}

template <DType K>
void attend_keys(const KvHead& kv, const AttentionQuery& q, float* scores) {
  switch (kv.values.type) {
    case DType::F32: return attend_typed<K, DType::F32>(kv, q, scores);
    case DType::F16: return attend_typed<K, DType::F16>(kv, q, scores);
    default: return attend_typed<K, DType::Q8_0>(kv, q, scores);
  }
}

}  // namespace

void attend_one_avx2(const KvHead& kv, const AttentionQuery& q, float* scores) {
  switch (kv.keys.type) {
    case DType::F32: return attend_keys<DType::F32>(kv, q, scores);
    case DType::F16: return attend_keys<DType::F16>(kv, q, scores);
    default: return attend_keys<DType::Q8_0>(kv, q, scores);
  }
}

}  // namespace lumen

#include "kernels/target_end.h"

#else  // not x86-64: no AVX2 path, and no CPU reports one

namespace lumen {
void attend_one_avx2(const KvHead&, const AttentionQuery&, float*) { fail("AVX2 attention in a non-x86 build"); }
}  // namespace lumen

#endif
