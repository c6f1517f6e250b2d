// AVX-512 kernels: 16 floats per register, 6 rows x 4 tokens prefill tile (24 accumulators, 6
// weight registers and one activation register: 31 of the 32 zmm registers). Compiled for AVX-512 by the pragma below whatever the build flags, and
// called only when the CPU reports AVX-512 F/BW/VL (kernels/cpu_features.h). The quantized
// kernels (qgemm_tiles.h) take their byte dot products from VNNI's vpdpbusd on ymm registers
// (AVX512VL), the packed ones (packed_tiles.h) from vpdpbusd on zmm registers; both are handed
// out only when the CPU also reports VNNI.
#include "kernels/cpu_features.h"
#include "kernels/gemm_kernel.h"
#include "kernels/packed_kernel.h"
#include "kernels/qgemm_kernel.h"

#if defined(__x86_64__)
#include "kernels/x86_intrinsics.h"

#include <cstring>

#include "kernels/target_avx512_begin.h"

#include "kernels/gemm_tiles.h"
#include "kernels/packed_tiles.h"
#include "kernels/qgemm_tiles.h"

namespace lumen {
namespace {

struct Avx512 {
  using Reg = __m512;
  static constexpr int kWidth = 16;
  // In side-by-side F16 prefill runs 6 x 4 was as fast as 5 x 5 and 1-7 % faster than 4 x 6 and
  // 3 x 8 (the noise is a few %); any of them is ~1.8x the 4 x 4 tile with folded loads.
  static constexpr int kRows = 6;
  static constexpr int kTokens = 4;

  static Reg zero() { return _mm512_setzero_ps(); }
  static Reg fma(Reg a, Reg b, Reg acc) { return _mm512_fmadd_ps(a, b, acc); }
  static float sum(Reg v) { return _mm512_reduce_add_ps(v); }
  static Reg load_x(const float* p) { return _mm512_loadu_ps(p); }

  // Weights are widened to f32 and multiplied with f32 activations: exact widening, so only the
  // summation order differs from the scalar reference. (vdpbf16ps would round the activations
  // to bf16 as well.)
  template <DType T>
  static Reg load_w(const uint8_t* row, int64_t i) {
    if constexpr (T == DType::F32) {
      return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + i);
    } else {
      const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * i));
      if constexpr (T == DType::F16) return _mm512_cvtph_ps(h);
      // bf16 is the top half of an f32: widen each 16-bit lane to 32 bits and shift it up.
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
  }
};

struct Vnni {
  // Unsigned x signed bytes, each group of four summed straight into 32 bits.
  static __m256i dot(__m256i acc, __m256i u8, __m256i s8) { return _mm256_dpbusd_epi32(acc, u8, s8); }
};

// The packed kernels' 16 lanes: one zmm register, one vpdpbusd per 4 values of 16 rows.
struct Zmm {
  using I = __m512i;
  using F = __m512;
  static constexpr bool kUnsignedQ8 = true;  // vpdpbusd sums into 32 bits: no saturation
  static constexpr int kTokens = 8;

  static I load(const uint8_t* p) { return _mm512_loadu_si512(p); }
  static I low(I v) { return _mm512_and_si512(v, _mm512_set1_epi8(0x0F)); }
  static I high(I v) { return _mm512_and_si512(_mm512_srli_epi16(v, 4), _mm512_set1_epi8(0x0F)); }
  static I splat(int32_t v) { return _mm512_set1_epi32(v); }
  static I dot(I acc, I u8, int32_t x4) { return _mm512_dpbusd_epi32(acc, u8, _mm512_set1_epi32(x4)); }
  static F scales(const uint8_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static F zero() { return _mm512_setzero_ps(); }
  static F mul(F a, float s) { return _mm512_mul_ps(a, _mm512_set1_ps(s)); }
  static F fma_int(I isum, F scale, F acc) { return _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), scale, acc); }
  static F fnma_int(I isum, F scale, F acc) { return _mm512_fnmadd_ps(_mm512_cvtepi32_ps(isum), scale, acc); }
  static void store(float* y, F v) { _mm512_storeu_ps(y, v); }
  static I bytes_to_i32(const uint8_t* p) {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static I sbytes_to_i32(const uint8_t* p) {
    return _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  }
  static I or_(I a, I b) { return _mm512_or_si512(a, b); }
  template <int M>
  static I top_bits(I v) {
    const I m = _mm512_set1_epi8(0x30);
    if constexpr (M < 2) return _mm512_and_si512(_mm512_slli_epi16(v, 4 - 2 * M), m);
    else if constexpr (M == 2) return _mm512_and_si512(v, m);
    else return _mm512_and_si512(_mm512_srli_epi16(v, 2), m);
  }
  static I add(I a, I b) { return _mm512_add_epi32(a, b); }
  static I mullo(I a, I b) { return _mm512_mullo_epi32(a, b); }
  static I dot_pairs(I acc, const uint8_t* p, int32_t pair) {
    const I pairs = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_dpwssd_epi32(acc, pairs, _mm512_set1_epi32(pair));
  }
};

}  // namespace
}  // namespace lumen

#include "kernels/target_end.h"

namespace lumen {
GemmRows gemm_rows_avx512(DType t) { return gemm::select<Avx512>(t); }
QGemmRows qgemm_rows_avx512(DType t) { return cpu_has_avx512_vnni() ? qgemm::select<Vnni>(t) : nullptr; }
PackedGroups packed_groups_avx512(DType t) { return cpu_has_avx512_vnni() ? packed::select<Zmm>(t) : nullptr; }
}  // namespace lumen

#else  // not x86-64: no AVX-512 path

namespace lumen {
GemmRows gemm_rows_avx512(DType) { return nullptr; }
QGemmRows qgemm_rows_avx512(DType) { return nullptr; }
PackedGroups packed_groups_avx512(DType) { return nullptr; }
}  // namespace lumen

#endif
