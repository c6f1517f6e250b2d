#include "tensor/dtype.h"

#include <array>
#include <bit>

#include "util/error.h"

namespace lumen {
namespace {

struct Entry {
  uint32_t id;
  DTypeInfo info;
};

// Block geometry from ggml's type traits (QK_K = 256 super-blocks for the K-quants).
constexpr std::array kTypes = {
    Entry{0, {"F32", 1, 4}},       Entry{1, {"F16", 1, 2}},        Entry{2, {"Q4_0", 32, 18}},
    Entry{3, {"Q4_1", 32, 20}},    Entry{6, {"Q5_0", 32, 22}},     Entry{7, {"Q5_1", 32, 24}},
    Entry{8, {"Q8_0", 32, 34}},    Entry{9, {"Q8_1", 32, 36}},     Entry{10, {"Q2_K", 256, 84}},
    Entry{11, {"Q3_K", 256, 110}}, Entry{12, {"Q4_K", 256, 144}},  Entry{13, {"Q5_K", 256, 176}},
    Entry{14, {"Q6_K", 256, 210}}, Entry{15, {"Q8_K", 256, 292}},  Entry{30, {"BF16", 1, 2}},
};

}  // namespace

const DTypeInfo* dtype_info(uint32_t id) {
  for (const auto& e : kTypes)
    if (e.id == id) return &e.info;
  return nullptr;
}

const DTypeInfo& dtype_info(DType t) {
  const DTypeInfo* info = dtype_info(static_cast<uint32_t>(t));
  if (!info) fail("unknown tensor type id ", static_cast<uint32_t>(t));
  return *info;
}

size_t row_bytes(DType t, int64_t n) {
  const DTypeInfo& info = dtype_info(t);
  if (n < 0 || n % info.block_elems != 0)
    fail("row of ", n, " elements is not a whole number of ", info.name, " blocks of ", info.block_elems);
  return size_t(n / info.block_elems) * info.block_bytes;
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);  // inf / nan
  } else if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      bits = sign | uint32_t(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
    }
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  return std::bit_cast<float>(bits);
}

uint16_t f32_to_f16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint16_t sign = uint16_t((x >> 16) & 0x8000);
  const uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) return sign | 0x7c00 | (abs > 0x7f800000u ? 0x200 : 0);  // inf / nan
  if (abs >= 0x477ff000u) return sign | 0x7c00;  // rounds to beyond the largest half: inf
  if (abs < 0x38800000u) {                        // result is subnormal or zero
    // Scale so that the half subnormal step (2^-24) becomes 1, then round to nearest even.
    const float scaled = std::bit_cast<float>(abs) * 16777216.0f;  // exact: power of two
    const uint32_t trunc = uint32_t(scaled);
    const float rem = scaled - float(trunc);
    uint32_t r = trunc + (rem > 0.5f || (rem == 0.5f && (trunc & 1)));
    return sign | uint16_t(r);
  }
  // Normal: rebias exponent, round mantissa from 23 to 10 bits (nearest even).
  uint32_t m = abs + 0xfffu + ((abs >> 13) & 1);
  return sign | uint16_t((m - (uint32_t(127 - 15) << 23)) >> 13);
}

uint16_t f32_to_bf16(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // quiet nan
  u += 0x7fffu + ((u >> 16) & 1);
  return uint16_t(u >> 16);
}

}  // namespace lumen
