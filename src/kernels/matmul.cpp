#include "kernels/matmul.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/gemm_kernel.h"
#include "kernels/packed_layout.h"
#include "kernels/qmatmul.h"
#include "tensor/quants/quantize.h"
#include "util/error.h"

namespace lumen {
namespace {

[[noreturn]] void unsupported(DType type) {
  fail("tensor type ", dtype_name(type), " is not supported by the compute kernels yet");
}

template <DType T>
float element(const uint8_t* row, int64_t c) {
  if constexpr (T == DType::F32) {
    float v;
    std::memcpy(&v, row + 4 * c, 4);
    return v;
  } else {
    uint16_t h;
    std::memcpy(&h, row + 2 * c, 2);
    return T == DType::F16 ? f16_to_f32(h) : bf16_to_f32(h);
  }
}

// The reference: the formula of the header, one row and one token at a time, summing in column
// order. It is also the kernel of the scalar path (LUMEN_ISA=scalar, CPUs without AVX2).
template <DType T>
void reference_rows(const GemmArgs& a, int64_t row_begin, int64_t row_end) {
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint8_t* row = a.w + r * a.row_stride;
    for (int t = 0; t < a.n_tokens; ++t) {
      const float* xt = a.x + int64_t(t) * a.cols;
      float sum = 0.0f;
      for (int64_t c = 0; c < a.cols; ++c) sum += element<T>(row, c) * xt[c];
      a.y[int64_t(t) * a.rows + r] = sum;
    }
  }
}

GemmRows reference_kernel(DType type) {
  switch (type) {
    case DType::F32: return &reference_rows<DType::F32>;
    case DType::F16: return &reference_rows<DType::F16>;
    case DType::BF16: return &reference_rows<DType::BF16>;
    default: unsupported(type);
  }
}

// The kernel of the path in use; the SIMD selectors are only asked when the CPU has that path.
GemmRows fast_kernel(DType type) {
  GemmRows k = nullptr;
  switch (kernel_isa()) {
    case Isa::Avx512: k = gemm_rows_avx512(type); break;
    case Isa::Avx2: k = gemm_rows_avx2(type); break;
    case Isa::Scalar: break;
  }
  return k ? k : reference_kernel(type);
}

GemmArgs make_args(const Tensor& w, const float* x, float* y, int n_tokens) {
  if (n_tokens < 0) fail("matmul with a negative token count ", n_tokens);
  return GemmArgs{static_cast<const uint8_t*>(w.data), row_bytes(w.type, w.row_length()), w.row_length(), w.rows(),
                  x, y, n_tokens};
}

}  // namespace

void dequantize_row(DType type, const void* src, float* dst, int64_t n) {
  const auto* s = static_cast<const uint8_t*>(src);
  switch (type) {
    case DType::F32:
      for (int64_t i = 0; i < n; ++i) dst[i] = element<DType::F32>(s, i);
      return;
    case DType::F16:
      for (int64_t i = 0; i < n; ++i) dst[i] = element<DType::F16>(s, i);
      return;
    case DType::BF16:
      for (int64_t i = 0; i < n; ++i) dst[i] = element<DType::BF16>(s, i);
      return;
    default: dequantize_row_quantized(type, src, dst, n);  // block types; fails clearly for others
  }
}

void matmul_reference(const Tensor& w, const float* x, float* y, int n_tokens) {
  const GemmArgs a = make_args(w, x, y, n_tokens);
  if (!has_quantized_kernel(w.type)) return reference_kernel(w.type)(a, 0, a.rows);
  // Block-quantized weights: the header's formula on the dequantized row, f32 activations.
  std::vector<float> row(a.cols);
  for (int64_t r = 0; r < a.rows; ++r) {
    if (w.layout == Layout::Interleaved16) dequantize_packed_row(w, r, row.data());
    else dequantize_row(w.type, w.row(r), row.data(), a.cols);
    for (int t = 0; t < n_tokens; ++t) {
      float sum = 0.0f;
      for (int64_t c = 0; c < a.cols; ++c) sum += row[c] * x[int64_t(t) * a.cols + c];
      y[int64_t(t) * a.rows + r] = sum;
    }
  }
}

void matmul(const Tensor& w, const float* x, float* y, int n_tokens, ThreadPool& pool) {
  const GemmArgs a = make_args(w, x, y, n_tokens);
  if (has_quantized_kernel(w.type)) return qmatmul(w, x, y, n_tokens, pool);
  const GemmRows kernel = fast_kernel(w.type);
  if (a.rows == 0 || n_tokens == 0) return;
  // Threads take contiguous runs of whole row tiles: each streams its own part of W once and
  // writes its own columns of y, so no two threads touch the same weights.
  const int64_t tiles = (a.rows + kGemmRowTile - 1) / kGemmRowTile;
  pool.run([&](int i, int nth) {
    const auto [begin, end] = split_range(tiles, i, nth);
    kernel(a, begin * kGemmRowTile, std::min(end * kGemmRowTile, a.rows));
  });
}

void matmul(std::span<const MatmulOutput> outs, const float* x, int n_tokens, ThreadPool& pool) {
  if (can_share_activations(outs)) return qmatmul_packed(outs, x, n_tokens, pool);
  for (const MatmulOutput& o : outs) matmul(*o.w, x, o.y, n_tokens, pool);
}

}  // namespace lumen
