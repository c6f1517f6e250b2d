#pragma once
// Internal interface between the matmul driver (matmul.cpp: argument checks, ISA choice, thread
// split) and the per-ISA kernels (gemm_avx512.cpp, gemm_avx2.cpp). A kernel computes the outputs
// of a contiguous range of weight rows for every token; the driver hands each thread one range.
#include <cstddef>
#include <cstdint>

#include "tensor/dtype.h"

namespace lumen {

struct GemmArgs {
  const uint8_t* w;   // row r starts at w + r * row_stride
  size_t row_stride;  // bytes
  int64_t cols, rows;
  const float* x;     // n_tokens rows of cols floats
  float* y;           // n_tokens rows of `rows` floats
  int n_tokens;
};

// Computes y[t * rows + r] for r in [row_begin, row_end) and every token t.
using GemmRows = void (*)(const GemmArgs& a, int64_t row_begin, int64_t row_end);

// Threads split the rows in multiples of this, so that each thread's range is whole tiles (the
// AVX-512 float tile has 6 rows: the up to 5 rows left at a range's end take 1-row tiles).
constexpr int64_t kGemmRowTile = 4;

// The kernel of each SIMD path for weights of type t; nullptr where the path has none
// (quantized types, or a build for a CPU family without that instruction set).
GemmRows gemm_rows_avx512(DType t);
GemmRows gemm_rows_avx2(DType t);

}  // namespace lumen
