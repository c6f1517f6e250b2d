// K-quant quantization follows ggml's reference algorithm step for step, because the blocks
// it picks are the format's de-facto definition for "the same input gives the same file":
//  * Q4_K/Q5_K: each sub-block of 32 gets an affine fit (scale, min) from a grid search over
//    candidate inverse scales, weighting each value by rms(sub-block) + |x|; the eight scales
//    and mins are then quantized to 6 bits against the super-block's largest, and the values
//    requantized against those rounded scales.
//  * Q6_K: each sub-block of 16 gets a symmetric scale from a search that maximises the
//    x^2-weighted fit; the 16 scales become int8 against the largest.
// The order of every f32 operation matters, so expressions keep ggml's association and are
// not fused into FMAs (ggml's reference build does not fuse them).
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF  // clang ignores GCC's optimize pragma (and fuses a * b + c by default)
#else
#pragma GCC optimize("fp-contract=off")
#endif
#include "tensor/quants/quant_k.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "tensor/dtype.h"

namespace lumen::quants {
namespace {

constexpr int kSub = 32;  // Q4_K/Q5_K sub-block
constexpr int kSub6 = 16; // Q6_K sub-block

// Round to nearest, ties to even, for |x| < 2^22: adding 1.5 * 2^23 leaves the rounded
// integer in the low mantissa bits (ggml's nearest_int).
int nearest_int(float x) {
  const int32_t bits = std::bit_cast<int32_t>(x + 12582912.0f);
  return (bits & 0x007fffff) - 0x00400000;
}

// Affine fit of n values to levels 0..nmax: x ~ scale * L - min_out. Starts from the min/max
// range, then tries inverse scales (rmin + rdelta * is + nmax) / range for is = 0..nstep,
// solving weighted least squares for (scale, min) at each and keeping the lowest weighted
// squared error. The minimum is clamped to <= 0 so that zero stays representable.
float fit_affine(int n, int nmax, const float* x, const float* w, uint8_t* L, float* min_out, float rmin,
                 float rdelta, int nstep) {
  float min = x[0], max = x[0];
  float sum_w = w[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    std::fill(L, L + n, 0);
    *min_out = -min;
    return 0.f;
  }
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  float best_error = 0;
  for (int i = 0; i < n; ++i) {
    L[i] = uint8_t(std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax));
    const float diff = scale * L[i] + min - x[i];
    best_error += w[i] * (diff * diff);
  }
  uint8_t Laux[kSub];
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * is + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::clamp(nearest_int(iscale * (x[i] - min)), 0, nmax);
      Laux[i] = uint8_t(l);
      sum_l += w[i] * l;
      sum_l2 += w[i] * l * l;
      sum_xl += w[i] * l * x[i];
    }
    const float D = sum_w * sum_l2 - sum_l * sum_l;
    if (D > 0) {
      float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
      float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
      if (this_min > 0) {
        this_min = 0;
        this_scale = sum_xl / sum_l2;
      }
      float error = 0;
      for (int i = 0; i < n; ++i) {
        const float diff = this_scale * Laux[i] + this_min - x[i];
        error += w[i] * (diff * diff);
      }
      if (error < best_error) {
        std::copy(Laux, Laux + n, L);
        best_error = error;
        scale = this_scale;
        min = this_min;
      }
    }
  }
  *min_out = -min;
  return scale;
}

// Symmetric fit of n values to levels -nmax..nmax-1 (stored as L + nmax), weighting value i
// by x_i^2: maps the signed absmax to -nmax, then tries inverse scales -(nmax + 0.1 is) / max
// for is = -9..9 and keeps the one whose least-squares scale explains most of the signal.
float fit_symmetric(int n, int nmax, const float* x, int8_t* L) {
  float amax = 0, max = 0;
  for (int i = 0; i < n; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      max = x[i];
    }
  }
  if (amax < 1e-15f) {  // ggml's GROUP_MAX_EPS: an all-zero group
    std::fill(L, L + n, 0);
    return 0.f;
  }
  auto level = [&](float iscale, int i) { return std::clamp(nearest_int(iscale * x[i]), -nmax, nmax - 1); };
  float iscale = -nmax / max;
  float sumlx = 0, suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = level(iscale, i);
    L[i] = int8_t(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    iscale = -(nmax + 0.1f * is) / max;
    sumlx = suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = level(iscale, i);
      const float w = x[i] * x[i];
      sumlx += w * x[i] * l;
      suml2 += w * l * l;
    }
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      for (int i = 0; i < n; ++i) L[i] = int8_t(nmax + level(iscale, i));
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

// Q4_K and Q5_K share everything but the level count and the search grid: fits the eight
// sub-blocks, packs their 6-bit scales and mins, and returns the final levels in L.
template <typename Block>
void quantize_super_block_affine(const float* x, Block& y, uint8_t* L, int nmax, float rmin, int nstep) {
  float scales[kQK_K / kSub], mins[kQK_K / kSub];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < kQK_K / kSub; ++j) {
    const float* xs = x + kSub * j;
    float sum_x2 = 0;
    for (int l = 0; l < kSub; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = std::sqrt(sum_x2 / kSub);
    float w[kSub];
    for (int l = 0; l < kSub; ++l) w[l] = av_x + std::fabs(xs[l]);
    scales[j] = fit_affine(kSub, nmax, xs, w, L + kSub * j, &mins[j], rmin, 0.1f, nstep);
    max_scale = std::max(max_scale, scales[j]);
    max_min = std::max(max_min, mins[j]);
  }

  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < kQK_K / kSub; ++j) {
    // Truncation to 8 bits before the clamp is ggml's (a negative fit wraps, then clamps to 63).
    const uint8_t ls = std::min<uint8_t>(63, uint8_t(nearest_int(inv_scale * scales[j])));
    const uint8_t lm = std::min<uint8_t>(63, uint8_t(nearest_int(inv_min * mins[j])));
    if (j < 4) {
      y.scales[j] = ls;
      y.scales[j + 4] = lm;
    } else {
      y.scales[j + 4] = uint8_t((ls & 0xF) | (lm & 0xF) << 4);
      y.scales[j - 4] |= uint8_t((ls >> 4) << 6);
      y.scales[j] |= uint8_t((lm >> 4) << 6);
    }
  }
  y.d = f32_to_f16(max_scale / 63.f);
  y.dmin = f32_to_f16(max_min / 63.f);

  // Requantize against the rounded scales; a sub-block whose scale rounded to zero keeps the
  // levels of its fit.
  for (int j = 0; j < kQK_K / kSub; ++j) {
    const ScaleMin sm = scale_min_k4(y.scales, j);
    const float d = f16_to_f32(y.d) * sm.scale;
    if (d == 0) continue;
    const float dm = f16_to_f32(y.dmin) * sm.min;
    for (int l = 0; l < kSub; ++l)
      L[kSub * j + l] = uint8_t(std::clamp(nearest_int((x[kSub * j + l] + dm) / d), 0, nmax));
  }
}


}  // namespace

void low_nibbles_k(const uint8_t* qs, uint8_t* levels) {
  for (int p = 0; p < kQK_K / 64; ++p)
    for (int l = 0; l < 32; ++l) {
      levels[64 * p + l] = qs[32 * p + l] & 0xF;
      levels[64 * p + 32 + l] = qs[32 * p + l] >> 4;
    }
}

ScaleMin scale_min_k4(const uint8_t* q, int j) {
  if (j < 4) return {uint8_t(q[j] & 63), uint8_t(q[j + 4] & 63)};
  return {uint8_t((q[j + 4] & 0xF) | (q[j - 4] >> 6) << 4), uint8_t((q[j + 4] >> 4) | (q[j] >> 6) << 4)};
}

void quantize_row_q4_k(const float* x, BlockQ4_K* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    uint8_t L[kQK_K];
    quantize_super_block_affine(x, y[i], L, 15, -1.f, 20);
    for (int j = 0; j < kQK_K; j += 64)
      for (int l = 0; l < 32; ++l) y[i].qs[j / 2 + l] = uint8_t(L[j + l] | L[j + l + 32] << 4);
  }
}

void quantize_row_q5_k(const float* x, BlockQ5_K* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    uint8_t L[kQK_K];
    quantize_super_block_affine(x, y[i], L, 31, -0.5f, 15);
    std::memset(y[i].qh, 0, sizeof y[i].qh);
    for (int j = 0; j < kQK_K; j += 64) {
      const int pair = j / 64;  // which bit pair of qh holds this group's fifth bits
      for (int l = 0; l < 32; ++l) {
        const uint8_t lo = L[j + l], hi = L[j + l + 32];
        y[i].qh[l] |= uint8_t((lo >> 4) << (2 * pair) | (hi >> 4) << (2 * pair + 1));
        y[i].qs[j / 2 + l] = uint8_t((lo & 0xF) | (hi & 0xF) << 4);
      }
    }
  }
}

void quantize_row_q6_k(const float* x, BlockQ6_K* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    int8_t L[kQK_K];
    float scales[kQK_K / kSub6];
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < kQK_K / kSub6; ++ib) {
      scales[ib] = fit_symmetric(kSub6, 32, x + kSub6 * ib, L + kSub6 * ib);
      if (std::fabs(scales[ib]) > max_abs_scale) {
        max_abs_scale = std::fabs(scales[ib]);
        max_scale = scales[ib];
      }
    }
    if (max_abs_scale < 1e-15f) {  // an all-zero super-block
      std::memset(&y[i], 0, sizeof y[i]);
      continue;
    }
    const float iscale = -128.f / max_scale;
    y[i].d = f32_to_f16(1 / iscale);
    for (int ib = 0; ib < kQK_K / kSub6; ++ib) y[i].scales[ib] = int8_t(std::min(127, nearest_int(iscale * scales[ib])));
    for (int j = 0; j < kQK_K / kSub6; ++j) {
      const float d = f16_to_f32(y[i].d) * y[i].scales[j];
      if (d == 0) continue;  // keeps the fit's levels, as ggml does
      for (int l = 0; l < kSub6; ++l)
        L[kSub6 * j + l] = int8_t(std::clamp(nearest_int(x[kSub6 * j + l] / d), -32, 31) + 32);
    }
    for (int j = 0; j < kQK_K; j += 128) {
      uint8_t* ql = y[i].ql + j / 2;
      uint8_t* qh = y[i].qh + j / 4;
      for (int l = 0; l < 32; ++l) {
        const uint8_t q[4] = {uint8_t(L[j + l]), uint8_t(L[j + l + 32]), uint8_t(L[j + l + 64]), uint8_t(L[j + l + 96])};
        ql[l] = uint8_t((q[0] & 0xF) | (q[2] & 0xF) << 4);
        ql[l + 32] = uint8_t((q[1] & 0xF) | (q[3] & 0xF) << 4);
        qh[l] = uint8_t((q[0] >> 4) | (q[1] >> 4) << 2 | (q[2] >> 4) << 4 | (q[3] >> 4) << 6);
      }
    }
  }
}

void quantize_row_q8_k(const float* x, BlockQ8_K* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    float amax = 0, max = 0;
    for (int j = 0; j < kQK_K; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    if (amax == 0) {
      std::memset(&y[i], 0, sizeof y[i]);
      continue;
    }
    // -127 rather than -128 keeps every level symmetric, so q * q products fit SIMD lanes.
    const float iscale = -127.f / max;
    for (int j = 0; j < kQK_K; ++j) y[i].qs[j] = int8_t(std::min(127, nearest_int(iscale * x[j])));
    for (int g = 0; g < kQK_K / 16; ++g) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += y[i].qs[16 * g + l];
      y[i].bsums[g] = int16_t(sum);
    }
    y[i].d = 1 / iscale;
  }
}

void dequantize_row_q4_k(const BlockQ4_K* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = f16_to_f32(x[i].d), dmin = f16_to_f32(x[i].dmin);
    uint8_t levels[kQK_K];
    low_nibbles_k(x[i].qs, levels);
    for (int v = 0; v < kQK_K; ++v) {
      const ScaleMin sm = scale_min_k4(x[i].scales, v / kSub);
      *y++ = d * sm.scale * levels[v] - dmin * sm.min;
    }
  }
}

void dequantize_row_q5_k(const BlockQ5_K* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = f16_to_f32(x[i].d), dmin = f16_to_f32(x[i].dmin);
    uint8_t levels[kQK_K];
    low_nibbles_k(x[i].qs, levels);
    for (int v = 0; v < kQK_K; ++v) {
      const ScaleMin sm = scale_min_k4(x[i].scales, v / kSub);
      const int high = (x[i].qh[v % 32] >> (v / 32)) & 1;  // sub-block s uses bit s of qh
      *y++ = d * sm.scale * (levels[v] + 16 * high) - dmin * sm.min;
    }
  }
}

void levels_q6_k(const BlockQ6_K& b, uint8_t* levels) {
  for (int half = 0; half < 2; ++half)
    for (int l = 0; l < 32; ++l) {
      const uint8_t* ql = b.ql + 64 * half + l;
      const uint8_t qh = b.qh[32 * half + l];
      uint8_t* out = levels + 128 * half + l;
      out[0] = uint8_t((ql[0] & 0xF) | (qh & 3) << 4);
      out[32] = uint8_t((ql[32] & 0xF) | ((qh >> 2) & 3) << 4);
      out[64] = uint8_t((ql[0] >> 4) | ((qh >> 4) & 3) << 4);
      out[96] = uint8_t((ql[32] >> 4) | ((qh >> 6) & 3) << 4);
    }
}

void dequantize_row_q6_k(const BlockQ6_K* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    const float d = f16_to_f32(x[i].d);
    uint8_t levels[kQK_K];
    levels_q6_k(x[i], levels);
    for (int v = 0; v < kQK_K; ++v) *y++ = d * x[i].scales[v / kSub6] * (levels[v] - 32);
  }
}

void dequantize_row_q8_k(const BlockQ8_K* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK_K; ++i)
    for (int j = 0; j < kQK_K; ++j) *y++ = x[i].d * x[i].qs[j];
}

}  // namespace lumen::quants
