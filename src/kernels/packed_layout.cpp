#include "kernels/packed_layout.h"

#include <cstring>
#include <vector>

#include "tensor/quants/block_formats.h"
#include "tensor/quants/quant_k.h"
#include "tensor/quants/quantize.h"
#include "util/error.h"

namespace lumen {
namespace {

using quants::BlockQ4_0;
using quants::BlockQ4_K;
using quants::BlockQ8_0;

constexpr size_t kScaleBytes = 2 * kPackRows;  // one f16 per row

// ---- Q4_0, Q8_0: a byte shuffle of the row blocks ----

// Quant bytes 4c .. 4c + 3 of row i's block lie at bytes 64c + 4i .. 64c + 4i + 3 of the group
// block's quants (the header's mapping); Q8_0's are stored with their sign bit flipped.
size_t packed_offset(size_t c, int i) { return kScaleBytes + 64 * c + 4 * size_t(i); }

size_t quant_words(DType type) { return (type == DType::Q4_0 ? sizeof(BlockQ4_0::qs) : sizeof(BlockQ8_0::qs)) / 4; }

uint32_t sign_flip(DType type) { return type == DType::Q8_0 ? 0x80808080u : 0u; }

void copy_word(const uint8_t* from, uint8_t* to, uint32_t flip) {
  uint32_t w;
  std::memcpy(&w, from, 4);
  w ^= flip;
  std::memcpy(to, &w, 4);
}

// Both block types start with their f16 d, followed by their quant bytes.
void pack_block(DType type, int i, const uint8_t* row_block, uint8_t* group_block) {
  std::memcpy(group_block + 2 * i, row_block, 2);
  for (size_t c = 0; c < quant_words(type); ++c)
    copy_word(row_block + 2 + 4 * c, group_block + packed_offset(c, i), sign_flip(type));
}

void unpack_block(DType type, int i, const uint8_t* group_block, uint8_t* row_block) {
  std::memcpy(row_block, group_block + 2 * i, 2);
  for (size_t c = 0; c < quant_words(type); ++c)
    copy_word(group_block + packed_offset(c, i), row_block + 2 + 4 * c, sign_flip(type));
}

// ---- Q4_K: scales and mins unpacked, nibbles regrouped per 32-value sub-block ----

// Where value v (0-255) of row i lies in the group block: byte and whether in the high nibble.
size_t q4k_quant_byte(int v, int i) {
  const int j = v / 32, k = v % 16;
  return PackedQ4K::quants + 256 * j + 64 * (k / 4) + 4 * i + k % 4;
}
bool q4k_high_nibble(int v) { return v % 32 >= 16; }

// Row i's 256 levels as the nibbles of 8 runs of 4 chunks of 64 bytes, `stride` bytes apart:
// run j holds values 32j + 4c + k in the low nibble of byte 64c + 4i + k and 32j + 16 + 4c + k
// in its high nibble (Q4_K's quants, Q6_K's low 4 bits).
void write_nibbles(const uint8_t* levels, int i, uint8_t* runs, size_t stride) {
  for (int j = 0; j < 8; ++j)
    for (int c = 0; c < 4; ++c)
      for (int k = 0; k < 4; ++k) {
        const int v = 32 * j + 4 * c + k;
        runs[stride * j + 64 * c + 4 * i + k] = uint8_t((levels[v] & 15) | (levels[v + 16] & 15) << 4);
      }
}

void pack_q4k(int i, const BlockQ4_K& b, uint8_t* group_block) {
  std::memcpy(group_block + PackedQ4K::d + 2 * i, &b.d, 2);
  std::memcpy(group_block + PackedQ4K::dmin + 2 * i, &b.dmin, 2);
  for (int j = 0; j < 8; ++j) {
    const quants::ScaleMin sm = quants::scale_min_k4(b.scales, j);
    group_block[PackedQ4K::scale + 16 * j + i] = sm.scale;
    group_block[PackedQ4K::min + 32 * (j / 2) + 2 * i + j % 2] = sm.min;
  }
  uint8_t levels[quants::kQK_K];
  quants::low_nibbles_k(b.qs, levels);
  write_nibbles(levels, i, group_block + PackedQ4K::quants, 256);
}

// Row i's values, computed as dequantize_row_q4_k computes them (so they are equal, bit for bit).
void dequantize_q4k(int i, const uint8_t* group_block, float* out) {
  uint16_t d16, dmin16;
  std::memcpy(&d16, group_block + PackedQ4K::d + 2 * i, 2);
  std::memcpy(&dmin16, group_block + PackedQ4K::dmin + 2 * i, 2);
  const float d = f16_to_f32(d16), dmin = f16_to_f32(dmin16);
  for (int v = 0; v < quants::kQK_K; ++v) {
    const int j = v / 32;
    const uint8_t scale = group_block[PackedQ4K::scale + 16 * j + i];
    const uint8_t min = group_block[PackedQ4K::min + 32 * (j / 2) + 2 * i + j % 2];
    const uint8_t byte = group_block[q4k_quant_byte(v, i)];
    out[v] = d * scale * (q4k_high_nibble(v) ? byte >> 4 : byte & 0x0F) - dmin * min;
  }
}

// ---- Q6_K: low 4 bits as nibbles, top 2 bits four to a byte, regrouped per 32 values ----

// Where value v (0-255) of row i lies: its nibble's byte (high nibble or not), and the byte
// and shift of its top 2 bits.
struct Q6KPlace {
  size_t nibble_byte;
  bool high_nibble;
  size_t top_byte;
  int top_shift;
};
static_assert(PackedQ6K::bytes == kPackRows * sizeof(quants::BlockQ6_K));

Q6KPlace q6k_place(int v, int i) {
  const int j = v / 32, w = v % 32, k = w % 16, h = w / 16, m = k / 4;
  const size_t base = PackedQ6K::quants + PackedQ6K::chunk * j + 4 * size_t(i) + k % 4;
  return {base + 64 * size_t(m), h == 1, base + PackedQ6K::high + 64 * size_t(h), 2 * m};
}

void pack_q6k(int i, const quants::BlockQ6_K& b, uint8_t* group_block) {
  std::memcpy(group_block + PackedQ6K::d + 2 * i, &b.d, 2);
  for (int k = 0; k < 16; ++k) group_block[PackedQ6K::scale + 16 * k + i] = uint8_t(b.scales[k]);
  uint8_t levels[quants::kQK_K];
  quants::levels_q6_k(b, levels);
  write_nibbles(levels, i, group_block + PackedQ6K::quants, PackedQ6K::chunk);
  // Top bits: byte 64h + 4i + k of run j's top chunks holds, in bit pair m, vector 4h + m's
  // value: 32j + 16h + 4m + k.
  for (int j = 0; j < 8; ++j)
    for (int h = 0; h < 2; ++h)
      for (int k = 0; k < 4; ++k) {
        uint8_t top = 0;
        for (int m = 0; m < 4; ++m) top |= uint8_t((levels[32 * j + 16 * h + 4 * m + k] >> 4) << (2 * m));
        group_block[PackedQ6K::quants + PackedQ6K::chunk * j + PackedQ6K::high + 64 * h + 4 * i + k] = top;
      }
}

// Row i's values, computed as dequantize_row_q6_k computes them.
void dequantize_q6k(int i, const uint8_t* group_block, float* out) {
  uint16_t d16;
  std::memcpy(&d16, group_block + PackedQ6K::d + 2 * i, 2);
  const float d = f16_to_f32(d16);
  for (int v = 0; v < quants::kQK_K; ++v)
    out[v] = d * int8_t(group_block[PackedQ6K::scale + 16 * (v / 16) + i]) * (packed_q6k_level(group_block, i, v) - 32);
}

// Bytes of one group block.
size_t group_block_bytes(DType type) {
  if (type == DType::Q4_K) return PackedQ4K::bytes;
  return kPackRows * dtype_info(type).block_bytes;  // Q6_K: PackedQ6K::bytes, the same
}

}  // namespace

int packed_q6k_level(const uint8_t* group_block, int i, int v) {
  const Q6KPlace p = q6k_place(v, i);
  const uint8_t nibbles = group_block[p.nibble_byte];
  return (p.high_nibble ? nibbles >> 4 : nibbles & 15) | ((group_block[p.top_byte] >> p.top_shift) & 3) << 4;
}

bool can_pack(const Tensor& w) {
  const bool type = w.type == DType::Q4_0 || w.type == DType::Q8_0 || w.type == DType::Q4_K || w.type == DType::Q6_K;
  return w.layout == Layout::Rows && type && w.rows() > 0 && w.rows() % kPackRows == 0;
}

size_t packed_group_bytes(const Tensor& w) {
  return size_t(w.row_length() / dtype_info(w.type).block_elems) * group_block_bytes(w.type);
}

size_t packed_bytes(const Tensor& w) { return size_t(w.rows() / kPackRows) * packed_group_bytes(w); }

void pack_groups(const Tensor& w, int64_t group_begin, int64_t group_end, uint8_t* out) {
  if (!can_pack(w)) fail("tensor ", w.name, " (", dtype_name(w.type), ") cannot be packed for the kernels");
  const size_t block_bytes = dtype_info(w.type).block_bytes, packed_block = group_block_bytes(w.type);
  const int64_t blocks = w.row_length() / dtype_info(w.type).block_elems;
  for (int64_t g = group_begin; g < group_end; ++g) {
    uint8_t* group = out + g * packed_group_bytes(w);
    for (int i = 0; i < kPackRows; ++i) {
      const uint8_t* row = w.row(g * kPackRows + i);
      for (int64_t b = 0; b < blocks; ++b) {
        uint8_t* group_block = group + b * packed_block;
        if (w.type == DType::Q4_K) pack_q4k(i, reinterpret_cast<const BlockQ4_K*>(row)[b], group_block);
        else if (w.type == DType::Q6_K) pack_q6k(i, reinterpret_cast<const quants::BlockQ6_K*>(row)[b], group_block);
        else pack_block(w.type, i, row + b * block_bytes, group_block);
      }
    }
  }
}

void dequantize_packed_row(const Tensor& w, int64_t r, float* out) {
  if (w.layout != Layout::Interleaved16) fail("tensor ", w.name, " is not packed");
  const size_t block_bytes = dtype_info(w.type).block_bytes, packed_block = group_block_bytes(w.type);
  const int64_t block_elems = dtype_info(w.type).block_elems, blocks = w.row_length() / block_elems;
  const int i = int(r % kPackRows);
  const uint8_t* group = static_cast<const uint8_t*>(w.data) + (r / kPackRows) * packed_group_bytes(w);
  if (w.type == DType::Q4_K || w.type == DType::Q6_K) {
    for (int64_t b = 0; b < blocks; ++b) {
      if (w.type == DType::Q4_K) dequantize_q4k(i, group + b * packed_block, out + b * block_elems);
      else dequantize_q6k(i, group + b * packed_block, out + b * block_elems);
    }
    return;
  }
  std::vector<uint8_t> row(size_t(blocks) * block_bytes);
  for (int64_t b = 0; b < blocks; ++b) unpack_block(w.type, i, group + b * packed_block, row.data() + b * block_bytes);
  dequantize_row_quantized(w.type, row.data(), out, w.row_length());
}

}  // namespace lumen
