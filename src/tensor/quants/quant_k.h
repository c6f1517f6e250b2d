#pragma once
// The K-quant super-block types (QK_K = 256 values): Q4_K, Q5_K and Q6_K quantized with
// ggml's reference search (the blocks llama-quantize writes without an importance matrix),
// and Q8_K, the 8-bit form K-quant dot products quantize activations into. n is a multiple
// of 256 (the dispatcher in quantize.h checks it).
#include <cstdint>

#include "tensor/quants/block_formats.h"

namespace lumen::quants {

void quantize_row_q4_k(const float* x, BlockQ4_K* y, int64_t n);
void quantize_row_q5_k(const float* x, BlockQ5_K* y, int64_t n);
void quantize_row_q6_k(const float* x, BlockQ6_K* y, int64_t n);
void quantize_row_q8_k(const float* x, BlockQ8_K* y, int64_t n);

void dequantize_row_q4_k(const BlockQ4_K* x, float* y, int64_t n);
void dequantize_row_q5_k(const BlockQ5_K* x, float* y, int64_t n);
void dequantize_row_q6_k(const BlockQ6_K* x, float* y, int64_t n);
void dequantize_row_q8_k(const BlockQ8_K* x, float* y, int64_t n);

// Sub-block j's 6-bit scale and min from Q4_K/Q5_K's 12 scale bytes: bytes 0-3 hold the
// scales of sub-blocks 0-3 and bytes 4-7 their mins (low 6 bits); sub-blocks 4-7 keep their
// low 4 bits in the nibbles of bytes 8-11 and their top 2 bits in the top bits of bytes 0-7.
struct ScaleMin {
  uint8_t scale, min;
};
ScaleMin scale_min_k4(const uint8_t* scales, int j);

// The 256 levels (0-15) of a Q4_K/Q5_K super-block's low 4 bits: each 64 values share 32
// bytes, the first 32 values in the low nibbles and the next 32 in the high ones.
void low_nibbles_k(const uint8_t* qs, uint8_t* levels);

// The 256 levels (0-63) of a Q6_K super-block: value = d * scale * (level - 32).
void levels_q6_k(const BlockQ6_K& b, uint8_t* levels);

}  // namespace lumen::quants
