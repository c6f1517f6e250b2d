#pragma once
// The GGUF/ggml block layouts, byte for byte. A block covers 32 values (legacy types) or a
// 256-value super-block (K-quants, QK_K = 256); scales are IEEE half (stored as raw bits)
// except Q8_K's, which is f32 because Q8_K only ever lives in memory as the activation side of
// K-quant dot products. Field order and sizes are what the files hold, so a block can be read
// straight out of a mapped file.
#include <cstdint>

namespace lumen::quants {

constexpr int kQK = 32;    // values per legacy block
constexpr int kQK_K = 256; // values per K-quant super-block

// value = (q - 8) * d; qs[j] holds value j in its low nibble and value j + 16 in its high one.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK / 2];
};

// value = q * d + m, nibbles as in Q4_0.
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kQK / 2];
};

// value = (q - 16) * d with a 5-bit q: the low 4 bits as in Q4_0, bit 4 of value j in bit j
// of the little-endian 32-bit qh.
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};

// value = q * d + m, q packed as in Q5_0.
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};

// value = q * d.
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};

// Eight sub-blocks of 32 with 6-bit scale and min each, packed into 12 bytes (see
// quant_k.h: scale_min_k4). value = d * scale * q - dmin * min, q 4 bits: for each 64 values,
// 32 bytes hold the first 32 in low nibbles and the next 32 in high nibbles.
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[kQK_K / 2];
};

// As Q4_K with a fifth bit: for the i-th group of 64 values, bit 2i of qh[l] is the high bit
// of value 64i + l and bit 2i + 1 that of value 64i + 32 + l.
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};

// Sixteen sub-blocks of 16 with a signed 8-bit scale each; value = d * scale * (q - 32), q 6
// bits. Per 128 values: ql[l] holds values l (low) and l + 64 (high), ql[l + 32] values l + 32
// and l + 96; qh[l] holds bits 4-5 of values l, l + 32, l + 64, l + 96 in its bit pairs 0..3.
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};

// value = q * d; bsums[i] is the sum of q over values 16i .. 16i + 15, which K-quant dot
// products use to apply the minimums without touching every value.
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

}  // namespace lumen::quants
