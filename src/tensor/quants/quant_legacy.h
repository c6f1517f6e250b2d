#pragma once
// The 32-value block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0): quantize a row with ggml's
// reference rounding, so that the same floats give the same bytes as llama.cpp's
// llama-quantize without an importance matrix, and dequantize a row. n is a multiple of 32
// (the dispatcher in quantize.h checks it).
#include <cstdint>

#include "tensor/quants/block_formats.h"

namespace lumen::quants {

void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t n);
void quantize_row_q4_1(const float* x, BlockQ4_1* y, int64_t n);
void quantize_row_q5_0(const float* x, BlockQ5_0* y, int64_t n);
void quantize_row_q5_1(const float* x, BlockQ5_1* y, int64_t n);
void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n);

void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t n);
void dequantize_row_q4_1(const BlockQ4_1* x, float* y, int64_t n);
void dequantize_row_q5_0(const BlockQ5_0* x, float* y, int64_t n);
void dequantize_row_q5_1(const BlockQ5_1* x, float* y, int64_t n);
void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t n);

}  // namespace lumen::quants
