// The scalar twin of the packed kernels (packed_kernel.h): the integer arithmetic and the float
// operation order of packed_tiles.h written one row and one token at a time, reading the
// packed bytes through the layout's definition. It is the kernel of the scalar path and the
// reference the SIMD paths are held to, bit for bit.
#include <cmath>
#include <cstring>

#include "kernels/packed_kernel.h"
#include "kernels/packed_layout.h"

namespace lumen {
namespace {

using quants::BlockQ8_0;

// Unsigned quant j (0-31) of row i in a group block's quant bytes.
template <DType T>
int unsigned_quant(const uint8_t* quants, int i, int j) {
  if constexpr (T == DType::Q8_0) return quants[64 * (j / 4) + 4 * i + j % 4];
  const int k = j % 16;  // Q4_0: values 0-15 in the low nibbles, 16-31 in the high ones
  const uint8_t byte = quants[64 * (k / 4) + 4 * i + k % 4];
  return j < 16 ? byte & 0x0F : byte >> 4;
}

template <DType T>
void groups(const PackedArgs& a, int64_t group_begin, int64_t group_end) {
  const size_t block_bytes = a.group_stride / size_t(a.blocks);
  for (int64_t g = group_begin; g < group_end; ++g)
    for (int i = 0; i < kPackRows; ++i)
      for (int t = 0; t < a.n_tokens; ++t) {
        float y = 0.0f;
        for (int64_t b = 0; b < a.blocks; ++b) {
          const uint8_t* block = a.w + g * a.group_stride + b * block_bytes;
          uint16_t d;
          std::memcpy(&d, block + 2 * i, 2);
          const BlockQ8_0& x = a.xq[t * a.blocks + b];
          const PackedAct& xa = a.xa[t * a.blocks + b];
          int32_t isum = xa.offset;
          for (int j = 0; j < quants::kQK; ++j) isum += unsigned_quant<T>(block + 2 * kPackRows, i, j) * x.qs[j];
          y = std::fma(float(isum), f16_to_f32(d) * xa.d, y);
        }
        a.y[int64_t(t) * a.rows + g * kPackRows + i] = y;
      }
}

}  // namespace

PackedGroups packed_groups_scalar(DType t) {
  switch (t) {
    case DType::Q4_0: return &groups<DType::Q4_0>;
    case DType::Q8_0: return &groups<DType::Q8_0>;
    default: return nullptr;
  }
}

}  // namespace lumen
