// Every rounding here is part of the format's contract with llama.cpp: the scale is computed
// in f32 and its reciprocal taken before the scale is rounded to half, values are truncated
// (C casts) after adding the offset + 0.5, and Q8_0 rounds half away from zero. Products are
// not fused into FMAs, because ggml's reference build does not fuse them either.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF  // clang ignores GCC's optimize pragma (and fuses a * b + c by default)
#else
#pragma GCC optimize("fp-contract=off")
#endif
#include "tensor/quants/quant_legacy.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/dtype.h"

namespace lumen::quants {
namespace {

// The value of largest magnitude, with its sign (the symmetric types map it to -2^(bits-1)).
float signed_absmax(const float* x) {
  float amax = 0, max = 0;
  for (int j = 0; j < kQK; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

struct MinMax {
  float min, max;
};
MinMax min_max(const float* x) {
  MinMax r{x[0], x[0]};
  for (int j = 0; j < kQK; ++j) {
    r.min = std::min(r.min, x[j]);
    r.max = std::max(r.max, x[j]);
  }
  return r;
}

// Stores 32 five-bit values: low nibbles as in Q4_0, bit 4 of value j in bit j of qh.
template <typename Block>
void pack5(const uint8_t* q, Block& b) {
  uint32_t qh = 0;
  for (int j = 0; j < kQK / 2; ++j) {
    b.qs[j] = uint8_t((q[j] & 0x0F) | (q[j + kQK / 2] & 0x0F) << 4);
    qh |= uint32_t(q[j] >> 4) << j;
    qh |= uint32_t(q[j + kQK / 2] >> 4) << (j + kQK / 2);
  }
  std::memcpy(b.qh, &qh, 4);  // little-endian, as the file stores it
}

template <typename Block>
int unpack5(const Block& b, int j) {
  uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  const int nibble = j < kQK / 2 ? b.qs[j] & 0x0F : b.qs[j - kQK / 2] >> 4;
  return nibble | int((qh >> j) & 1) << 4;
}

int unpack4(const uint8_t* qs, int j) { return j < kQK / 2 ? qs[j] & 0x0F : qs[j - kQK / 2] >> 4; }

}  // namespace

void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    const float d = signed_absmax(x) / -8;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    for (int j = 0; j < kQK / 2; ++j) {
      const int q0 = std::min(15, int(int8_t(x[j] * id + 8.5f)));
      const int q1 = std::min(15, int(int8_t(x[j + kQK / 2] * id + 8.5f)));
      y[i].qs[j] = uint8_t(q0 | q1 << 4);
    }
  }
}

void quantize_row_q4_1(const float* x, BlockQ4_1* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    const auto [min, max] = min_max(x);
    const float d = (max - min) / 15;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    y[i].m = f32_to_f16(min);
    for (int j = 0; j < kQK / 2; ++j) {
      const int q0 = std::min(15, int(int8_t((x[j] - min) * id + 0.5f)));
      const int q1 = std::min(15, int(int8_t((x[j + kQK / 2] - min) * id + 0.5f)));
      y[i].qs[j] = uint8_t(q0 | q1 << 4);
    }
  }
}

void quantize_row_q5_0(const float* x, BlockQ5_0* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    const float d = signed_absmax(x) / -16;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    uint8_t q[kQK];
    for (int j = 0; j < kQK; ++j) q[j] = uint8_t(std::min(31, int(int8_t(x[j] * id + 16.5f))));
    pack5(q, y[i]);
  }
}

void quantize_row_q5_1(const float* x, BlockQ5_1* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    const auto [min, max] = min_max(x);
    const float d = (max - min) / 31;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    y[i].m = f32_to_f16(min);
    uint8_t q[kQK];
    for (int j = 0; j < kQK; ++j) q[j] = uint8_t((x[j] - min) * id + 0.5f);  // at most 31 by construction
    pack5(q, y[i]);
  }
}

void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    float amax = 0;
    for (int j = 0; j < kQK; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    for (int j = 0; j < kQK; ++j) y[i].qs[j] = int8_t(std::round(x[j] * id));
  }
}

void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK; ++i) {
    const float d = f16_to_f32(x[i].d);
    for (int j = 0; j < kQK; ++j) *y++ = float(unpack4(x[i].qs, j) - 8) * d;
  }
}

void dequantize_row_q4_1(const BlockQ4_1* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK; ++i) {
    const float d = f16_to_f32(x[i].d), m = f16_to_f32(x[i].m);
    for (int j = 0; j < kQK; ++j) *y++ = float(unpack4(x[i].qs, j)) * d + m;
  }
}

void dequantize_row_q5_0(const BlockQ5_0* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK; ++i) {
    const float d = f16_to_f32(x[i].d);
    for (int j = 0; j < kQK; ++j) *y++ = float(unpack5(x[i], j) - 16) * d;
  }
}

void dequantize_row_q5_1(const BlockQ5_1* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK; ++i) {
    const float d = f16_to_f32(x[i].d), m = f16_to_f32(x[i].m);
    for (int j = 0; j < kQK; ++j) *y++ = float(unpack5(x[i], j)) * d + m;
  }
}

void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n / kQK; ++i) {
    const float d = f16_to_f32(x[i].d);
    for (int j = 0; j < kQK; ++j) *y++ = float(x[i].qs[j]) * d;
  }
}

}  // namespace lumen::quants
