#include "kernels/packed_layout.h"

#include <cstring>
#include <vector>

#include "tensor/quants/block_formats.h"
#include "tensor/quants/quantize.h"
#include "util/error.h"

namespace lumen {
namespace {

using quants::BlockQ4_0;
using quants::BlockQ8_0;

constexpr size_t kScaleBytes = 2 * kPackRows;  // the group block's d[16]

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

}  // namespace

bool can_pack(const Tensor& w) {
  return w.layout == Layout::Rows && (w.type == DType::Q4_0 || w.type == DType::Q8_0) && w.rows() > 0 &&
         w.rows() % kPackRows == 0;
}

size_t packed_group_bytes(const Tensor& w) { return kPackRows * row_bytes(w.type, w.row_length()); }

void pack_groups(const Tensor& w, int64_t group_begin, int64_t group_end, uint8_t* out) {
  if (!can_pack(w)) fail("tensor ", w.name, " (", dtype_name(w.type), ") cannot be packed for the kernels");
  const size_t block_bytes = dtype_info(w.type).block_bytes;
  const int64_t blocks = w.row_length() / dtype_info(w.type).block_elems;
  for (int64_t g = group_begin; g < group_end; ++g) {
    uint8_t* group = out + g * packed_group_bytes(w);
    for (int i = 0; i < kPackRows; ++i) {
      const uint8_t* row = w.row(g * kPackRows + i);
      for (int64_t b = 0; b < blocks; ++b)
        pack_block(w.type, i, row + b * block_bytes, group + b * kPackRows * block_bytes);
    }
  }
}

void dequantize_packed_row(const Tensor& w, int64_t r, float* out) {
  if (w.layout != Layout::Interleaved16) fail("tensor ", w.name, " is not packed");
  const size_t block_bytes = dtype_info(w.type).block_bytes;
  const int64_t blocks = w.row_length() / dtype_info(w.type).block_elems;
  const int64_t g = r / kPackRows;
  const int i = int(r % kPackRows);
  const uint8_t* group = static_cast<const uint8_t*>(w.data) + g * packed_group_bytes(w);
  std::vector<uint8_t> row(size_t(blocks) * block_bytes);
  for (int64_t b = 0; b < blocks; ++b)
    unpack_block(w.type, i, group + b * kPackRows * block_bytes, row.data() + b * block_bytes);
  dequantize_row_quantized(w.type, row.data(), out, w.row_length());
}

}  // namespace lumen
