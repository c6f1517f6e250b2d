// The scalar twin of the packed kernels (packed_kernel.h): the integer arithmetic and the float
// operation order of packed_tiles.h written one row and one token at a time, reading the
// packed bytes through the layout's definition (packed_layout.h). It is the kernel of the
// scalar path and the reference the SIMD paths are held to, bit for bit.
#include <cmath>
#include <cstring>

#include "kernels/packed_kernel.h"
#include "kernels/packed_layout.h"

namespace lumen {
namespace {

using quants::BlockQ8_0;
using quants::BlockQ8_K;

float f16_at(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

// Value j (0-31) of row i in 32 values' worth of packed quant chunks, as an unsigned quant:
// Q8_0's sign-flipped byte, or Q4_0/Q4_K's nibble (values 0-15 low, 16-31 high).
template <DType T>
int unsigned_quant(const uint8_t* chunks, int i, int j) {
  if constexpr (T == DType::Q8_0) return chunks[64 * (j / 4) + 4 * i + j % 4];
  const int k = j % 16;
  const uint8_t byte = chunks[64 * (k / 4) + 4 * i + k % 4];
  return j < 16 ? byte & 0x0F : byte >> 4;
}

// Row i of a Q4_0/Q8_0 group block against one activation block.
template <DType T>
float block_product(const uint8_t* block, int i, const BlockQ8_0& x, const PackedAct& xa, float y) {
  int32_t isum = xa.offset;
  for (int j = 0; j < quants::kQK; ++j) isum += unsigned_quant<T>(block + 2 * kPackRows, i, j) * x.qs[j];
  return std::fma(float(isum), f16_at(block + 2 * i) * xa.d, y);
}

// Row i of a Q4_K group block against one Q8_K super-block.
float block_product(const uint8_t* block, int i, const BlockQ8_K& x, const PackedActK& xk, float y) {
  int32_t isum = 0, msum = 0;
  for (int j = 0; j < 8; ++j) {
    int32_t dot = 0;
    const uint8_t* chunks = block + PackedQ4K::quants + 256 * j;
    for (int v = 0; v < 32; ++v) dot += unsigned_quant<DType::Q4_K>(chunks, i, v) * x.qs[32 * j + v];
    isum += int32_t(block[PackedQ4K::scale + 16 * j + i]) * dot;
    const int32_t pair = xk.sum_pairs[j / 2];
    const int16_t sum = int16_t(j % 2 ? pair >> 16 : pair & 0xFFFF);
    msum += int32_t(block[PackedQ4K::min + 32 * (j / 2) + 2 * i + j % 2]) * sum;
  }
  y = std::fma(float(isum), f16_at(block + PackedQ4K::d + 2 * i) * xk.d, y);
  return std::fma(-float(msum), f16_at(block + PackedQ4K::dmin + 2 * i) * xk.d, y);
}

// Row i of a Q6_K group block against one Q8_K super-block: per sub-block of 16,
// sum (level - 32) x = level . x - 32 * bsum, times the sub-block's signed scale.
float block_product_q6k(const uint8_t* block, int i, const BlockQ8_K& x, const PackedActK& xk, float y) {
  int32_t isum = 0;
  for (int k = 0; k < 16; ++k) {
    int32_t dot = -32 * x.bsums[k];
    for (int v = 16 * k; v < 16 * k + 16; ++v) dot += packed_q6k_level(block, i, v) * x.qs[v];
    isum += int32_t(int8_t(block[PackedQ6K::scale + 16 * k + i])) * dot;
  }
  return std::fma(float(isum), f16_at(block + PackedQ6K::d + 2 * i) * xk.d, y);
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
          const int64_t xb = t * a.blocks + b;
          if constexpr (T == DType::Q4_K)
            y = block_product(block, i, static_cast<const BlockQ8_K*>(a.xq)[xb], a.xk[xb], y);
          else if constexpr (T == DType::Q6_K)
            y = block_product_q6k(block, i, static_cast<const BlockQ8_K*>(a.xq)[xb], a.xk[xb], y);
          else
            y = block_product<T>(block, i, static_cast<const BlockQ8_0*>(a.xq)[xb], a.xa[xb], y);
        }
        a.y[int64_t(t) * a.rows + g * kPackRows + i] = y;
      }
}

}  // namespace

PackedGroups packed_groups_scalar(DType t) {
  switch (t) {
    case DType::Q4_0: return &groups<DType::Q4_0>;
    case DType::Q8_0: return &groups<DType::Q8_0>;
    case DType::Q4_K: return &groups<DType::Q4_K>;
    case DType::Q6_K: return &groups<DType::Q6_K>;
    default: return nullptr;
  }
}

}  // namespace lumen
