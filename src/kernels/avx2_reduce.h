#pragma once
// Horizontal reductions of eight floats, for the AVX2 files (qgemm_tiles.h, attention_one_avx2.cpp,
// ops_avx2.cpp). Include it after the file's target pragma, inside its x86-64 guard. In an
// anonymous namespace, deliberately for a header: each file that includes it gets a copy
// compiled for its own target (an AVX-512 file's copy must not stand in for an AVX2 one's).
#include "kernels/x86_intrinsics.h"

namespace lumen {
namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}

}  // namespace
}  // namespace lumen
