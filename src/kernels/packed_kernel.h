#pragma once
// Internal interface between the quantized matmul driver (qmatmul.cpp) and the kernels of
// weights repacked to Layout::Interleaved16 (kernels/packed_layout.h): packed_scalar.cpp (the
// reference twin), and the AVX2 and AVX-512 VNNI instantiations of packed_tiles.h.
//
// Activations arrive quantized, one row of blocks per token, with what the kernels need of each
// block besides its quants:
// - Q4_0, Q8_0 weights: Q8_0 blocks, with the scale and the integer that turns the unsigned
//   weight quants' dot product into the signed one: sum_j (u_j - o) x_j = sum_j u_j x_j -
//   o sum_j x_j (o = 8 for Q4_0, 128 for Q8_0's flipped sign bit). Per block and row the exact
//   integer dot product is scaled once in float: y = fma(float(isum), d_w * d_x, y).
// - Q4_K weights: Q8_K super-blocks, with the sums of the 8 sub-blocks of 32 as 16-bit pairs.
//   Per super-block and row: isum = sum_j scale_j (u . x)_j and msum = sum_j min_j (sum x)_j,
//   exact integers, then y = fma(float(isum), d * d_x, y) and y = fma(-float(msum), dmin * d_x, y).
// - Q6_K weights: Q8_K super-blocks. Per super-block and row: isum = sum_k scale_k
//   ((level . x)_k - 32 bsum_k) over the 16 sub-blocks of 16, then y = fma(float(isum), d * d_x, y).
// Blocks are taken in column order, the same sequence of operations on every path and in every
// tile shape: outputs are bit-identical across the three paths, thread counts, and a token
// alone or inside a batch.
#include <cstddef>
#include <cstdint>

#include "tensor/dtype.h"
#include "tensor/quants/block_formats.h"

namespace lumen {

struct PackedAct {
  float d;         // the activation block's scale, widened
  int32_t offset;  // -o * sum of its quants
};

struct PackedActK {
  float d;
  int32_t sum_pairs[4];  // sub-block sums 2p (low 16 bits) and 2p + 1 (high 16 bits)
};

struct PackedArgs {
  const uint8_t* w;                // group g's blocks start at w + g * group_stride
  size_t group_stride;             // bytes
  int64_t blocks;                  // blocks (super-blocks for Q4_K) per row
  int64_t rows;                    // a multiple of 16
  const void* xq;                  // token t's BlockQ8_0 / BlockQ8_K at xq + t * blocks
  const PackedAct* xa;             // Q8_0 activations: token t's block terms at xa + t * blocks
  const PackedActK* xk;            // Q8_K activations: the same
  float* y;                        // n_tokens rows of `rows` floats
  int n_tokens;
};

// Computes y[t * rows + r] for the rows of groups [group_begin, group_end) and every token.
using PackedGroups = void (*)(const PackedArgs& a, int64_t group_begin, int64_t group_end);

// The kernel of each path for packed weights of type t (Q4_0, Q8_0, Q4_K, Q6_K); nullptr where the path
// has none (another type, a CPU without VNNI for the AVX-512 path, a non-x86 build).
PackedGroups packed_groups_scalar(DType t);
PackedGroups packed_groups_avx2(DType t);
PackedGroups packed_groups_avx512(DType t);

}  // namespace lumen
