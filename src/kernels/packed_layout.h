#pragma once
// Q4_0, Q8_0, Q4_K and Q6_K weights repacked once at load into Layout::Interleaved16: 16 rows interleaved
// block by block, so that one 512-bit register holds four consecutive values of each of the 16
// rows and one vpdpbusd adds four products to each row's sum. The row-major GGUF layout makes a
// decode kernel widen one scale per block and sum 8 lanes per row at the end; here one
// instruction widens 16 rows' scales, nothing is summed across lanes, and a prefill tile reuses
// each register of weights for many tokens.
//
// Rows are grouped 16 at a time (row r is row r % 16 of group r / 16); a group's blocks are
// stored one after another (one sequential stream per group). A group block (one block column
// of the 16 rows) holds:
//   Q4_0: d[16]     the rows' f16 scales
//         4 chunks of 64 bytes: byte 4i + j of chunk c is byte 4c + j of row i's qs, so its
//         low nibble is value 4c + j and its high nibble value 16 + 4c + j;
//   Q8_0: d[16], then 8 chunks of 64 bytes: byte 4i + j of chunk c is value 4c + j of row i
//         plus 128, i.e. the signed quant with its sign bit flipped (an unsigned byte, as
//         vpdpbusd wants its first operand);
//   Q4_K: d[16], dmin[16]   f16
//         scale[8][16]      sub-block j's 6-bit scale for row i at 16j + i
//         min[4][16][2]     the mins of sub-blocks 2p and 2p + 1 of row i at 32p + 2i, 2i + 1
//                           (a 16-bit pair per row once widened: one vpdpwssd per pair)
//         then per sub-block j of 32 values, 4 chunks of 64 bytes laid out as Q4_0's.
//   Q6_K: d[16]             f16
//         scale[16][16]     the signed scale of 16-value sub-block k for row i at 16k + i
//         then per 32 values j: 4 chunks of 64 bytes holding the low 4 bits of the levels as
//         Q4_0's nibbles (values 32j + 4c .. in the low nibbles of chunk c, 32j + 16 + 4c ..
//         in the high ones: 8 vectors n = 0..7 once split), and 2 chunks of 64 bytes holding
//         their top 2 bits: bits 2m, 2m + 1 of byte 4i + k of chunk h belong to vector 4h + m.
// Q4_0, Q8_0 and Q6_K group blocks have the size of 16 row-major blocks; Q4_K's are 64 bytes
// larger (2368 for 2304: the scales and mins unpacked from their 12 bytes per row).
#include <cstddef>
#include <cstdint>

#include "tensor/tensor.h"

namespace lumen {

constexpr int kPackRows = 16;

// Byte offsets inside a Q4_K group block (see above).
struct PackedQ4K {
  static constexpr size_t d = 0, dmin = 32, scale = 64, min = 192, quants = 320, bytes = 2368;
};
// ... and a Q6_K group block: per 32 values j, nibbles at quants + 384j, top bits 256 later.
struct PackedQ6K {
  static constexpr size_t d = 0, scale = 32, quants = 288, chunk = 384, high = 256, bytes = 3360;
};

// Whether w (row-major) can be repacked: Q4_0, Q8_0, Q4_K or Q6_K with a multiple of 16 rows.
bool can_pack(const Tensor& w);

// Bytes of one group's run of blocks, and of the whole packed tensor (rows / 16 groups).
size_t packed_group_bytes(const Tensor& w);
size_t packed_bytes(const Tensor& w);

// Writes w's groups [group_begin, group_end) in Layout::Interleaved16 to their place in out
// (packed_bytes(w) long): the caller can pack a large tensor in slices.
void pack_groups(const Tensor& w, int64_t group_begin, int64_t group_end, uint8_t* out);

// Level (0-63) of value v of row i in a Q6_K group block (the scalar twin reads it this way).
int packed_q6k_level(const uint8_t* group_block, int i, int v);

// Row r of a packed tensor, dequantized to n = w.row_length() floats (references, tests).
void dequantize_packed_row(const Tensor& w, int64_t r, float* out);

}  // namespace lumen
