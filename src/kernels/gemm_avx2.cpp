// AVX2 + FMA + F16C kernels: 8 floats per register, 4 rows x 2 tokens prefill tile (8
// accumulators, 4 weight registers and an activation register fit the 16 ymm registers).
// The quantized kernels (qgemm_tiles.h, and packed_tiles.h on pairs of registers) take their
// byte dot products from vpmaddubsw + vpmaddwd.
// Compiled for AVX2 by the pragma below whatever the build flags, and called only when the CPU
// reports AVX2, FMA and F16C (kernels/cpu_features.h).
#include "kernels/gemm_kernel.h"
#include "kernels/packed_kernel.h"
#include "kernels/qgemm_kernel.h"

#if defined(__x86_64__)
#include "kernels/x86_intrinsics.h"

#include <cstring>

#include "kernels/target_avx2_begin.h"

#include "kernels/gemm_tiles.h"
#include "kernels/packed_tiles.h"
#include "kernels/qgemm_tiles.h"

namespace lumen {
namespace {

struct Avx2 {
  using Reg = __m256;
  static constexpr int kWidth = 8;
  static constexpr int kRows = 4;
  static constexpr int kTokens = 2;

  static Reg zero() { return _mm256_setzero_ps(); }
  static Reg fma(Reg a, Reg b, Reg acc) { return _mm256_fmadd_ps(a, b, acc); }
  static float sum(Reg v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static Reg load_x(const float* p) { return _mm256_loadu_ps(p); }

  // Weights are widened exactly to f32 (see gemm_avx512.cpp).
  template <DType T>
  static Reg load_w(const uint8_t* row, int64_t i) {
    if constexpr (T == DType::F32) {
      return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i);
    } else {
      const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i));
      if constexpr (T == DType::F16) return _mm256_cvtph_ps(h);
      return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    }
  }
};

struct Avx2Dot {
  // Unsigned x signed bytes, pairs summed to 16 bits (exact: no pair of the quantized kernels
  // exceeds 128 * 127 * 2 < 2^15), then pairs of those to 32 bits.
  static __m256i dot(__m256i acc, __m256i u8, __m256i s8) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u8, s8), _mm256_set1_epi16(1)));
  }
};

// The packed kernels' 16 lanes as two halves of 8: rows 0-7 in lo, 8-15 in hi.
struct Avx2Pair {
  struct I {
    __m256i lo, hi;
  };
  struct F {
    __m256 lo, hi;
  };
  static constexpr bool kUnsignedQ8 = false;  // 255 * 127 * 2 would saturate vpmaddubsw
  static constexpr int kTokens = 2;

  static I load(const uint8_t* p) {
    return {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)),
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32))};
  }
  static I low(I v) {
    const __m256i m = _mm256_set1_epi8(0x0F);
    return {_mm256_and_si256(v.lo, m), _mm256_and_si256(v.hi, m)};
  }
  static I high(I v) {
    const __m256i m = _mm256_set1_epi8(0x0F);
    return {_mm256_and_si256(_mm256_srli_epi16(v.lo, 4), m), _mm256_and_si256(_mm256_srli_epi16(v.hi, 4), m)};
  }
  static I splat(int32_t v) { return {_mm256_set1_epi32(v), _mm256_set1_epi32(v)}; }
  static I dot(I acc, I u8, int32_t x4) {
    const __m256i x = _mm256_set1_epi32(x4);
    return {Avx2Dot::dot(acc.lo, u8.lo, x), Avx2Dot::dot(acc.hi, u8.hi, x)};
  }
  // Signed weights w = flipped ^ 0x80: |w| * (x * sign(w)) keeps each pair within 16 bits.
  static I dot_flipped(I acc, I flipped, int32_t x4) {
    const __m256i x = _mm256_set1_epi32(x4), flip = _mm256_set1_epi8(char(0x80));
    const __m256i lo = _mm256_xor_si256(flipped.lo, flip), hi = _mm256_xor_si256(flipped.hi, flip);
    return {Avx2Dot::dot(acc.lo, _mm256_sign_epi8(lo, lo), _mm256_sign_epi8(x, lo)),
            Avx2Dot::dot(acc.hi, _mm256_sign_epi8(hi, hi), _mm256_sign_epi8(x, hi))};
  }
  static F scales(const uint8_t* p) {
    return {_mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))),
            _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16)))};
  }
  static F zero() { return {_mm256_setzero_ps(), _mm256_setzero_ps()}; }
  static F mul(F a, float s) {
    const __m256 v = _mm256_set1_ps(s);
    return {_mm256_mul_ps(a.lo, v), _mm256_mul_ps(a.hi, v)};
  }
  static F fma_int(I isum, F scale, F acc) {
    return {_mm256_fmadd_ps(_mm256_cvtepi32_ps(isum.lo), scale.lo, acc.lo),
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum.hi), scale.hi, acc.hi)};
  }
  static F fnma_int(I isum, F scale, F acc) {
    return {_mm256_fnmadd_ps(_mm256_cvtepi32_ps(isum.lo), scale.lo, acc.lo),
            _mm256_fnmadd_ps(_mm256_cvtepi32_ps(isum.hi), scale.hi, acc.hi)};
  }
  static void store(float* y, F v) {
    _mm256_storeu_ps(y, v.lo);
    _mm256_storeu_ps(y + 8, v.hi);
  }
  static I bytes_to_i32(const uint8_t* p) {
    return {_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))),
            _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8)))};
  }
  static I sbytes_to_i32(const uint8_t* p) {
    return {_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))),
            _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8)))};
  }
  static I or_(I a, I b) { return {_mm256_or_si256(a.lo, b.lo), _mm256_or_si256(a.hi, b.hi)}; }
  template <int M>
  static I top_bits(I v) {
    const __m256i m = _mm256_set1_epi8(0x30);
    auto one = [&](__m256i x) {
      if constexpr (M < 2) return _mm256_and_si256(_mm256_slli_epi16(x, 4 - 2 * M), m);
      else if constexpr (M == 2) return _mm256_and_si256(x, m);
      else return _mm256_and_si256(_mm256_srli_epi16(x, 2), m);
    };
    return {one(v.lo), one(v.hi)};
  }
  static I add(I a, I b) { return {_mm256_add_epi32(a.lo, b.lo), _mm256_add_epi32(a.hi, b.hi)}; }
  static I mullo(I a, I b) { return {_mm256_mullo_epi32(a.lo, b.lo), _mm256_mullo_epi32(a.hi, b.hi)}; }
  static I dot_pairs(I acc, const uint8_t* p, int32_t pair) {
    const __m256i x = _mm256_set1_epi32(pair);
    const __m256i lo = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    const __m256i hi = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16)));
    return {_mm256_add_epi32(acc.lo, _mm256_madd_epi16(lo, x)), _mm256_add_epi32(acc.hi, _mm256_madd_epi16(hi, x))};
  }
};

}  // namespace
}  // namespace lumen

#include "kernels/target_end.h"

namespace lumen {
GemmRows gemm_rows_avx2(DType t) { return gemm::select<Avx2>(t); }
QGemmRows qgemm_rows_avx2(DType t) { return qgemm::select<Avx2Dot>(t); }
QuantizeQ8_0 quantize_q8_0_avx2() { return &qgemm::quantize_q8_0; }
QuantizeQ8_K quantize_q8_k_avx2() { return &qgemm::quantize_q8_k; }
PackedGroups packed_groups_avx2(DType t) { return packed::select<Avx2Pair>(t); }
}  // namespace lumen

#else  // not x86-64: no AVX2 path

namespace lumen {
GemmRows gemm_rows_avx2(DType) { return nullptr; }
QGemmRows qgemm_rows_avx2(DType) { return nullptr; }
QuantizeQ8_0 quantize_q8_0_avx2() { return nullptr; }
QuantizeQ8_K quantize_q8_k_avx2() { return nullptr; }
PackedGroups packed_groups_avx2(DType) { return nullptr; }
}  // namespace lumen

#endif
