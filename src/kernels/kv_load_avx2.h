#pragma once
// Cached key/value elements (F32, F16 or Q8_0) widened to float with AVX2 + F16C, for the
// kernels that read the KV cache (attention_one_avx2.cpp, attention_avx2.cpp). Include it only after
// those files' target pragma, inside their x86-64 guard.
#include <immintrin.h>

#include <cstdint>

#include "tensor/dtype.h"
#include "tensor/quants/block_formats.h"

namespace lumen::kv_load {

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

// Value i alone (the tails that do not fill eight lanes).
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

}  // namespace lumen::kv_load
