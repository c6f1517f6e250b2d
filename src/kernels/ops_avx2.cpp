// softmax, SwiGLU and log_sum_exp (kernels/ops.h) with AVX2 + FMA: eight values at a time through a
// polynomial exp, tails through the same exp on a padded register. Compiled for AVX2 by the
// pragma below whatever the build flags, and called only where the kernel path is AVX2 or
// AVX-512 (kernels/cpu_features.h).
#include "kernels/ops_simd.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/target_avx2_begin.h"

#include "kernels/avx2_reduce.h"

namespace lumen {
namespace {

// exp(x) within 2 ulp of the correctly rounded value for results in the normal range (Cephes'
// expf): x = n ln 2 + r with |r| <= ln 2 / 2, exp(r) by a degree-5 polynomial, times 2^n as two
// exact powers of two (2^n alone would leave the exponent field for n = 128 or n < -126).
// Below -104 the result is 0, above ln(FLT_MAX) +inf, and NaN stays NaN (max/min return their
// second operand when either is NaN).
inline __m256 exp8(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-104.0f), hi = _mm256_set1_ps(88.72283935546875f);
  const __m256 xc = _mm256_min_ps(hi, _mm256_max_ps(lo, x));
  const __m256 fn = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(fn, _mm256_set1_ps(0.693359375f), xc);  // ln 2 in two parts: the
  r = _mm256_fnmadd_ps(fn, _mm256_set1_ps(-2.12194440e-4f), r);      // first times n is exact
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  const __m256 y = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i n = _mm256_cvtps_epi32(fn), n1 = _mm256_srai_epi32(n, 1), n2 = _mm256_sub_epi32(n, n1);
  auto pow2 = [](__m256i k) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23)); };
  const __m256 e = _mm256_mul_ps(_mm256_mul_ps(y, pow2(n1)), pow2(n2));
  return _mm256_blendv_ps(e, _mm256_set1_ps(std::numeric_limits<float>::infinity()), _mm256_cmp_ps(x, hi, _CMP_GT_OQ));
}

// The last n % 8 values of a row, through a register padded with `fill`.
struct Tail {
  float v[8];
  int n;
  Tail(const float* row, int64_t row_length, float fill) : n(int(row_length & 7)) {
    std::fill_n(v, 8, fill);
    for (int i = 0; i < n; ++i) v[i] = row[row_length - n + i];
  }
  __m256 load() const { return _mm256_loadu_ps(v); }
  // Writes the tail's lanes of r back to the end of the row.
  void store(__m256 r, float* row, int64_t row_length) const {
    float out[8];
    _mm256_storeu_ps(out, r);
    for (int i = 0; i < n; ++i) row[row_length - n + i] = out[i];
  }
};

float max_of(const float* x, int64_t n) {
  const int64_t whole = n - n % 8;
  __m256 vmax = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  for (int64_t i = 0; i < whole; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
  float max = hmax(vmax);
  for (int64_t i = whole; i < n; ++i) max = std::max(max, x[i]);
  return max;
}

void softmax(float* x, int64_t n) {
  const int64_t whole = n - n % 8;
  const float max = max_of(x, n);
  const __m256 m = _mm256_set1_ps(max);
  __m256 vsum = _mm256_setzero_ps();
  for (int64_t i = 0; i < whole; i += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), m));
    _mm256_storeu_ps(x + i, e);
    vsum = _mm256_add_ps(vsum, e);
  }
  if (whole < n) {  // padding with -inf adds exp(-inf) = 0 to the sum
    const Tail t(x, n, -std::numeric_limits<float>::infinity());
    const __m256 e = exp8(_mm256_sub_ps(t.load(), m));
    vsum = _mm256_add_ps(vsum, e);
    t.store(e, x, n);
  }
  const float sum = hsum(vsum);
  const __m256 s = _mm256_set1_ps(sum);
  for (int64_t i = 0; i < whole; i += 8) _mm256_storeu_ps(x + i, _mm256_div_ps(_mm256_loadu_ps(x + i), s));
  for (int64_t i = whole; i < n; ++i) x[i] /= sum;
}

// exp(x - max) in float (one rounding of x - max, then exp within 2 ulp), summed in double.
double log_sum_exp(const float* x, int64_t n) {
  const int64_t whole = n - n % 8;
  const float max = max_of(x, n);
  const __m256 m = _mm256_set1_ps(max);
  __m256d low = _mm256_setzero_pd(), high = _mm256_setzero_pd();
  const auto add = [&](__m256 e) {
    low = _mm256_add_pd(low, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    high = _mm256_add_pd(high, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  };
  for (int64_t i = 0; i < whole; i += 8) add(exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), m)));
  if (whole < n) add(exp8(_mm256_sub_ps(Tail(x, n, -std::numeric_limits<float>::infinity()).load(), m)));
  double sums[4];
  _mm256_storeu_pd(sums, _mm256_add_pd(low, high));
  return double(max) + std::log((sums[0] + sums[1]) + (sums[2] + sums[3]));
}

// silu(g) * u = g / (1 + exp(-g)) * u, as the reference computes it.
inline __m256 swiglu8(__m256 g, __m256 u) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 sig = _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), g))));
  return _mm256_mul_ps(_mm256_mul_ps(g, sig), u);
}

void swiglu(float* gate, const float* up, int64_t n) {
  const int64_t whole = n - n % 8;
  for (int64_t i = 0; i < whole; i += 8)
    _mm256_storeu_ps(gate + i, swiglu8(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
  if (whole < n) {
    const Tail g(gate, n, 0.0f), u(up, n, 0.0f);
    g.store(swiglu8(g.load(), u.load()), gate, n);
  }
}

}  // namespace
}  // namespace lumen

#include "kernels/target_end.h"

namespace lumen {
const ExpOps* exp_ops_avx2() {
  static constexpr ExpOps ops{&softmax, &swiglu, &log_sum_exp};
  return &ops;
}
}  // namespace lumen

#else  // not x86-64: no AVX2 path

namespace lumen {
const ExpOps* exp_ops_avx2() { return nullptr; }
}  // namespace lumen

#endif
