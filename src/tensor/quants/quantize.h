#pragma once
// One entry point per direction for every storage type lumen writes: F32, F16, BF16 and the
// block-quantised GGUF types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, Q8_K).
// Quantization rounds as ggml's reference quantizers do, so the bytes match llama.cpp's.
#include <cstdint>
#include <vector>

#include "tensor/dtype.h"

namespace lumen {

// Whether quantize_row/dequantize_row_quantized handle `t`.
bool can_quantize_to(DType t);

// Converts n floats to n values of type t at dst (row_bytes(t, n) bytes). Fails with a
// lumen::Error if t is not supported or n is not a whole number of t's blocks.
void quantize_row(DType t, const float* src, void* dst, int64_t n);

// The inverse: n values of type t to floats. The same checks.
void dequantize_row_quantized(DType t, const void* src, float* dst, int64_t n);

// A whole tensor of rows of `row_length` values, rows spread over the available cores.
std::vector<uint8_t> quantize_tensor(DType t, const float* src, int64_t rows, int64_t row_length);
std::vector<float> dequantize_tensor(DType t, const void* src, int64_t rows, int64_t row_length);

}  // namespace lumen
