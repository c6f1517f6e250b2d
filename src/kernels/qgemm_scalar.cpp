// The scalar twins of the quantized kernels: the integer arithmetic of qgemm_tiles.h written
// out value by value. Each block contributes an exact integer dot product of its quants with
// the activation's quants, scaled once in float; the SIMD kernels compute the same integers and
// differ only in the order their floats are summed. Also the kernel of LUMEN_ISA=scalar.
#include <cmath>
#include <cstring>
#include <type_traits>

#include "kernels/qgemm_kernel.h"
#include "tensor/quants/quant_k.h"

namespace lumen {
namespace {

using namespace quants;

// Value j of a 32-value block: low nibbles hold values 0-15, high nibbles 16-31. (Branch-free:
// GCC 12 -O2 -march=znver4 vectorized the branching form of this into a wrong Q4_0 dot product.)
int nibble(const uint8_t* qs, int j) { return (qs[j % (kQK / 2)] >> (4 * (j / (kQK / 2)))) & 0x0F; }
// Bit 4 of value j of Q5_0/Q5_1: bit j of the little-endian 32-bit qh.
int fifth_bit(const uint8_t* qh, int j) {
  uint32_t h;
  std::memcpy(&h, qh, 4);
  return int(h >> j) & 1;
}

// The integer each 32-value type multiplies by its scale d (before adding Q4_1/Q5_1's minimum).
int quant(const BlockQ8_0& b, int j) { return b.qs[j]; }
int quant(const BlockQ4_0& b, int j) { return nibble(b.qs, j) - 8; }
int quant(const BlockQ4_1& b, int j) { return nibble(b.qs, j); }
int quant(const BlockQ5_0& b, int j) { return (nibble(b.qs, j) | fifth_bit(b.qh, j) << 4) - 16; }
int quant(const BlockQ5_1& b, int j) { return nibble(b.qs, j) | fifth_bit(b.qh, j) << 4; }

// sum_b d_w d_x sum_j q_j x_j  (+ m_w * d_x sum_j x_j for the types with a minimum).
template <class Block>
float dot_row(const Block* w, const BlockQ8_0* x, const ActScale* xs, int64_t blocks) {
  float sum = 0;
  for (int64_t b = 0; b < blocks; ++b) {
    int isum = 0;
    for (int j = 0; j < kQK; ++j) isum += quant(w[b], j) * x[b].qs[j];
    sum = std::fma(f16_to_f32(w[b].d) * xs[b].d, float(isum), sum);
    if constexpr (requires { w[b].m; }) sum = std::fma(f16_to_f32(w[b].m), xs[b].s, sum);
  }
  return sum;
}

// Q4_K/Q5_K value v (0-255) before scale and minimum: sub-block j = v / 32 is the low (even j)
// or high (odd j) nibbles of the 32 bytes qs[32 * (j / 2) ...]; Q5_K adds bit j of qh[v % 32].
int quant_k4(const BlockQ4_K& b, int v) {
  const uint8_t byte = b.qs[32 * (v / 64) + v % 32];
  return (v / 32) % 2 ? byte >> 4 : byte & 0x0F;
}
int quant_k4(const BlockQ5_K& b, int v) {
  const uint8_t byte = b.qs[32 * (v / 64) + v % 32];
  const int high = (b.qh[v % 32] >> (v / 32)) & 1;
  return ((v / 32) % 2 ? byte >> 4 : byte & 0x0F) | high << 4;
}

// Q4_K/Q5_K: sum over sub-blocks j of scale_j * (q . x) - min_j * (sum of x), the activation
// sums coming from Q8_K's bsums (two per sub-block of 32).
template <class Block>
float dot_row_k4(const Block* w, const BlockQ8_K* x, int64_t blocks) {
  float sum = 0;
  for (int64_t b = 0; b < blocks; ++b) {
    int isum = 0, msum = 0;
    for (int j = 0; j < kQK_K / 32; ++j) {
      const ScaleMin sm = scale_min_k4(w[b].scales, j);
      int dot = 0;
      for (int v = 32 * j; v < 32 * (j + 1); ++v) dot += quant_k4(w[b], v) * x[b].qs[v];
      isum += sm.scale * dot;
      msum += sm.min * (x[b].bsums[2 * j] + x[b].bsums[2 * j + 1]);
    }
    sum = std::fma(f16_to_f32(w[b].d) * x[b].d, float(isum), sum);
    sum = std::fma(-f16_to_f32(w[b].dmin) * x[b].d, float(msum), sum);
  }
  return sum;
}

// Q6_K value v (0-255), offset removed: in each half of 128, ql[l] holds values l (low nibble)
// and l + 64 (high), ql[l + 32] values l + 32 and l + 96; bits 4-5 are bit pair v / 32 % 4 of
// qh[l].
int quant_q6k(const BlockQ6_K& b, int v) {
  const int half = v / 128, u = v % 128, l = u % 32, quarter = u / 32;
  const uint8_t low = b.ql[64 * half + 32 * (quarter % 2) + l];
  const int nib = quarter < 2 ? low & 0x0F : low >> 4;
  const int high = (b.qh[32 * half + l] >> (2 * quarter)) & 3;
  return (nib | high << 4) - 32;
}

// Q6_K: sum over sub-blocks k of 16 of scale_k * (q . x).
float dot_row_q6k(const BlockQ6_K* w, const BlockQ8_K* x, int64_t blocks) {
  float sum = 0;
  for (int64_t b = 0; b < blocks; ++b) {
    int isum = 0;
    for (int k = 0; k < kQK_K / 16; ++k) {
      int dot = 0;
      for (int v = 16 * k; v < 16 * (k + 1); ++v) dot += quant_q6k(w[b], v) * x[b].qs[v];
      isum += w[b].scales[k] * dot;
    }
    sum = std::fma(f16_to_f32(w[b].d) * x[b].d, float(isum), sum);
  }
  return sum;
}

template <class Block>
float dot_row_any(const Block* w, const QGemmArgs& a, int t) {
  const uint8_t* xt = a.xq + t * a.xq_stride;
  if constexpr (std::is_same_v<Block, BlockQ4_K> || std::is_same_v<Block, BlockQ5_K>)
    return dot_row_k4(w, reinterpret_cast<const BlockQ8_K*>(xt), a.blocks);
  else if constexpr (std::is_same_v<Block, BlockQ6_K>)
    return dot_row_q6k(w, reinterpret_cast<const BlockQ8_K*>(xt), a.blocks);
  else
    return dot_row(w, reinterpret_cast<const BlockQ8_0*>(xt), a.xs + t * a.blocks, a.blocks);
}

// One row and one token at a time.
template <class Block>
void scalar_rows(const QGemmArgs& a, int64_t row_begin, int64_t row_end) {
  for (int64_t r = row_begin; r < row_end; ++r) {
    const auto* w = reinterpret_cast<const Block*>(a.w + r * a.row_stride);
    for (int t = 0; t < a.n_tokens; ++t) a.y[int64_t(t) * a.rows + r] = dot_row_any(w, a, t);
  }
}

}  // namespace

QGemmRows qgemm_rows_scalar(DType t) {
  switch (t) {
    case DType::Q8_0: return &scalar_rows<BlockQ8_0>;
    case DType::Q4_0: return &scalar_rows<BlockQ4_0>;
    case DType::Q4_1: return &scalar_rows<BlockQ4_1>;
    case DType::Q5_0: return &scalar_rows<BlockQ5_0>;
    case DType::Q5_1: return &scalar_rows<BlockQ5_1>;
    case DType::Q4_K: return &scalar_rows<BlockQ4_K>;
    case DType::Q5_K: return &scalar_rows<BlockQ5_K>;
    case DType::Q6_K: return &scalar_rows<BlockQ6_K>;
    default: return nullptr;
  }
}

}  // namespace lumen
