#pragma once
// Q4_0 and Q8_0 weights repacked once at load into Layout::Interleaved16: 16 rows interleaved
// block by block, so that one 512-bit register holds four consecutive values of each of the 16
// rows and one vpdpbusd adds four products to each row's sum. The row-major GGUF layout makes a
// decode kernel widen one scale per block and sum 8 lanes per row at the end; here one
// instruction widens 16 rows' scales, nothing is summed across lanes, and a prefill tile reuses
// each register of weights for many tokens.
//
// Rows are grouped 16 at a time (row r is row r % 16 of group r / 16); a group's blocks are
// stored one after another (one sequential stream per group), each group block being
//   d[16]    the 16 rows' f16 scales of this block column
//   quants   Q4_0: 4 chunks of 64 bytes; byte 4i + j of chunk c is byte 4c + j of row i's
//                  qs, so its low nibble is value 4c + j and its high nibble value 16 + 4c + j;
//            Q8_0: 8 chunks of 64 bytes; byte 4i + j of chunk c is value 4c + j of row i plus
//                  128, i.e. the signed quant with its sign bit flipped (an unsigned byte, as
//                  vpdpbusd wants its first operand).
// Group blocks have the size of 16 row-major blocks, so a packed tensor has the same bytes.
#include <cstddef>
#include <cstdint>

#include "tensor/tensor.h"

namespace lumen {

constexpr int kPackRows = 16;

// Whether w (row-major) can be repacked: Q4_0 or Q8_0 with a multiple of 16 rows.
bool can_pack(const Tensor& w);

// Writes w's bytes in Layout::Interleaved16 to out (w.bytes() long), for the row groups
// [group_begin, group_end): the caller can pack a large tensor in slices.
void pack_groups(const Tensor& w, int64_t group_begin, int64_t group_end, uint8_t* out);

// Bytes of one group's run of blocks (the packed tensor holds rows / 16 of them).
size_t packed_group_bytes(const Tensor& w);

// Row r of a packed tensor, dequantized to n = w.row_length() floats (references, tests).
void dequantize_packed_row(const Tensor& w, int64_t r, float* out);

}  // namespace lumen
