// KV row operations with AVX2 + FMA + F16C: eight values at a time, tails through the scalar
// formula. Compiled for that target whatever the build flags, and used only where the CPU has it.
#pragma GCC target("avx2,fma,f16c")
#include <immintrin.h>

#include "kernels/kv_rows.h"
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

}  // namespace

const KvRowOps& kv_row_ops_avx2() {
  static constexpr KvRowOps ops{dot, axpy};
  return ops;
}

}  // namespace lumen
