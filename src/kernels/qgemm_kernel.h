#pragma once
// Internal interface between the quantized matmul driver (qmatmul.cpp: activation quantization,
// ISA choice, thread split) and the per-ISA kernels of block-quantized weights
// (qgemm_scalar.cpp, qgemm_avx2.cpp, qgemm_avx512.cpp).
//
// The activations reach the kernels already quantized, once per token row: to Q8_0 blocks for
// the 32-value weight types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1), to Q8_K super-blocks for the
// K-quants (Q4_K, Q5_K, Q6_K). A weight block times an activation block is then an exact
// integer dot product, scaled once per block in float.
#include <cstddef>
#include <cstdint>

#include "tensor/dtype.h"
#include "tensor/quants/block_formats.h"

namespace lumen {

// What the 32-value types need of a Q8_0 activation block besides its quants, computed once
// per token: the scale widened to float; d * sum(q) for the minimum m of Q4_1/Q5_1
// (sum_j (u_j dw + m) x_j = dw sum_j u_j x_j + m sum_j x_j); and, for Q4_0/Q5_0 weights stored
// as unsigned u with value (u - o) d (o = 8, 16), -o times the sum of each group of four quants:
// the SIMD kernels start the 8 lanes of their unsigned dot product from it, so that it comes
// out as the exact sum_j (u_j - o) q_j.
struct ActScale {
  float d;
  float s;
  int32_t offset4[8];
};

struct QGemmArgs {
  const uint8_t* w;        // weight row r starts at w + r * row_stride
  size_t row_stride;       // bytes
  int64_t blocks;          // blocks per row: cols / 32 or cols / 256
  int64_t rows;
  const uint8_t* xq;       // token t's quantized activations start at xq + t * xq_stride
  size_t xq_stride;        // bytes
  const ActScale* xs;      // Q8_0 activations only: token t's blocks at xs + t * blocks
  float* y;                // n_tokens rows of `rows` floats
  int n_tokens;
};

// Computes y[t * rows + r] for r in [row_begin, row_end) and every token t. Each output is
// computed by the same sequence of operations whatever the token count and the tile it falls
// in, so a token gives bit-identical outputs alone (decode) and inside a batch (prefill).
using QGemmRows = void (*)(const QGemmArgs& a, int64_t row_begin, int64_t row_end);

// Quantizes n activations (a multiple of 32) to Q8_0 exactly as quantize_row(DType::Q8_0, ...)
// does, with AVX2; nullptr in a build without it (then quantize_row is the one).
using QuantizeQ8_0 = void (*)(const float* x, quants::BlockQ8_0* y, int64_t n);
QuantizeQ8_0 quantize_q8_0_avx2();

// The same for Q8_K (n a multiple of 256), as quantize_row(DType::Q8_K, ...) does.
using QuantizeQ8_K = void (*)(const float* x, quants::BlockQ8_K* y, int64_t n);
QuantizeQ8_K quantize_q8_k_avx2();

// The kernel of each path for weights of type t; nullptr where the path has none (a type
// without a quantized kernel, a CPU without VNNI for the AVX-512 path, a non-x86 build).
QGemmRows qgemm_rows_scalar(DType t);
QGemmRows qgemm_rows_avx2(DType t);
QGemmRows qgemm_rows_avx512(DType t);

}  // namespace lumen
