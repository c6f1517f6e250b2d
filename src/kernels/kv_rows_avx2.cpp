// KV row operations and the attention of one head with AVX2 + FMA + F16C: eight values at a
// time, tails through the scalar formula. Compiled for that target whatever the build flags,
// and used only where the CPU has it.
#pragma GCC target("avx2,fma,f16c")
#include <immintrin.h>

#include <cmath>

#include "kernels/attention.h"
#include "kernels/kv_rows.h"
#include "kernels/ops.h"
#include "tensor/quants/block_formats.h"

namespace lumen {
namespace {

// Eight values starting at i, widened to float (for Q8_0, i is a multiple of 8 inside a block).
inline __m256 load8(const uint8_t* row, DType type, int32_t i) {
  switch (type) {
    case DType::F32: return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i);
    case DType::F16:
      return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(reinterpret_cast<const uint16_t*>(row) + i)));
    default: {  // Q8_0
      const auto& b = reinterpret_cast<const quants::BlockQ8_0*>(row)[i / quants::kQK];
      const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b.qs + i % quants::kQK));
      return _mm256_mul_ps(_mm256_set1_ps(f16_to_f32(b.d)), _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)));
    }
  }
}

inline float value_at(const uint8_t* row, DType type, int32_t i) {
  switch (type) {
    case DType::F32: return reinterpret_cast<const float*>(row)[i];
    case DType::F16: return _cvtsh_ss(reinterpret_cast<const uint16_t*>(row)[i]);
    default: {
      const auto& b = reinterpret_cast<const quants::BlockQ8_0*>(row)[i / quants::kQK];
      return f16_to_f32(b.d) * float(b.qs[i % quants::kQK]);
    }
  }
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

float dot(const float* q, const uint8_t* k, DType type, int32_t n) {
  __m256 acc = _mm256_setzero_ps();
  int32_t i = 0;
  for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), load8(k, type, i), acc);
  float sum = hsum(acc);
  for (; i < n; ++i) sum += q[i] * value_at(k, type, i);
  return sum;
}

void axpy(float a, const uint8_t* v, DType type, int32_t n, float* out) {
  const __m256 av = _mm256_set1_ps(a);
  int32_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, _mm256_fmadd_ps(av, load8(v, type, i), _mm256_loadu_ps(out + i)));
  for (; i < n; ++i) out[i] += a * value_at(v, type, i);
}

// Eight values of a row whose type is known at compile time (the attention loops below).
template <DType T>
inline __m256 load8(const uint8_t* row, int32_t i) {
  return load8(row, T, i);
}

// Scores of positions p .. p + R - 1 (R independent FMA chains, one query load for R rows).
template <DType T, int R>
inline void scores_at(const AttentionHead& h, int32_t p, float scale, float* scores) {
  const uint8_t* k[R];
  __m256 acc[R];
  for (int r = 0; r < R; ++r) {
    k[r] = h.row(h.keys, p + r);
    acc[r] = _mm256_setzero_ps();
  }
  int32_t i = 0;
  for (; i + 8 <= h.head_dim; i += 8) {
    const __m256 q = _mm256_loadu_ps(h.query + i);
    for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_ps(q, load8<T>(k[r], i), acc[r]);
  }
  for (int r = 0; r < R; ++r) {
    float sum = hsum(acc[r]);
    for (int32_t j = i; j < h.head_dim; ++j) sum += h.query[j] * value_at(k[r], T, j);
    scores[r] = sum / scale;
  }
}

// out[i .. i + 8W) = sum over positions of score * value, W registers held across positions.
template <DType T, int W>
inline void weighted_values(const AttentionHead& h, const float* scores, int32_t i, float* out) {
  __m256 acc[W];
  for (int c = 0; c < W; ++c) acc[c] = _mm256_setzero_ps();
  for (int32_t p = h.first_position; p < h.n_positions; ++p) {
    const __m256 s = _mm256_set1_ps(scores[p - h.first_position]);
    const uint8_t* v = h.row(h.values, p);
    for (int c = 0; c < W; ++c) acc[c] = _mm256_fmadd_ps(s, load8<T>(v, i + 8 * c), acc[c]);
  }
  for (int c = 0; c < W; ++c) _mm256_storeu_ps(out + i + 8 * c, acc[c]);
}

// attention.h's attend for one key type and one value type: the rows' types are fixed for the
// whole head, so the inner loops carry no type dispatch and no calls.
template <DType K, DType V>
void attend_typed(const AttentionHead& h, float* scores, float* out) {
  const float scale = std::sqrt(float(h.head_dim));
  const int32_t first = h.first_position, count = h.n_positions - first;
  int32_t p = first;
  for (; p + 4 <= h.n_positions; p += 4) scores_at<K, 4>(h, p, scale, scores + (p - first));
  for (; p < h.n_positions; ++p) scores_at<K, 1>(h, p, scale, scores + (p - first));
  if (h.alibi_slope != 0.0f)
    for (p = first; p < h.n_positions; ++p) scores[p - first] += h.alibi_slope * float(p - (h.n_positions - 1));
  softmax(scores, count);
  int32_t i = 0;
  for (; i + 64 <= h.head_dim; i += 64) weighted_values<V, 8>(h, scores, i, out);
  for (; i + 8 <= h.head_dim; i += 8) weighted_values<V, 1>(h, scores, i, out);
  for (; i < h.head_dim; ++i) {
    float sum = 0.0f;
    for (p = first; p < h.n_positions; ++p) sum += scores[p - first] * value_at(h.row(h.values, p), V, i);
    out[i] = sum;
  }
}

template <DType K>
void attend_keys(const AttentionHead& h, float* scores, float* out) {
  switch (h.values.type) {
    case DType::F32: return attend_typed<K, DType::F32>(h, scores, out);
    case DType::F16: return attend_typed<K, DType::F16>(h, scores, out);
    default: return attend_typed<K, DType::Q8_0>(h, scores, out);
  }
}

}  // namespace

void attend_avx2(const AttentionHead& h, float* scores, float* out) {
  switch (h.keys.type) {
    case DType::F32: return attend_keys<DType::F32>(h, scores, out);
    case DType::F16: return attend_keys<DType::F16>(h, scores, out);
    default: return attend_keys<DType::Q8_0>(h, scores, out);
  }
}

const KvRowOps& kv_row_ops_avx2() {
  static constexpr KvRowOps ops{dot, axpy};
  return ops;
}

}  // namespace lumen
