#include "kernels/matmul.h"

#include <vector>

#include "util/error.h"

namespace lumen {

void dequantize_row(DType type, const void* src, float* dst, int64_t n) {
  switch (type) {
    case DType::F32: {
      const float* s = static_cast<const float*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = s[i];
      return;
    }
    case DType::F16: {
      const uint16_t* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = f16_to_f32(s[i]);
      return;
    }
    case DType::BF16: {
      const uint16_t* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(s[i]);
      return;
    }
    default:
      fail("tensor type ", dtype_name(type), " is not supported by the compute kernels yet");
  }
}

void matmul_reference(const Tensor& w, const float* x, float* y, int n_tokens) {
  const int64_t cols = w.row_length(), rows = w.rows();
  std::vector<float> row(cols);
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_row(w.type, w.row(r), row.data(), cols);
    for (int t = 0; t < n_tokens; ++t) {
      const float* xt = x + t * cols;
      float sum = 0.0f;
      for (int64_t c = 0; c < cols; ++c) sum += row[c] * xt[c];
      y[t * rows + r] = sum;
    }
  }
}

void matmul(const Tensor& w, const float* x, float* y, int n_tokens, ThreadPool& pool) {
  const int64_t rows = w.rows();
  pool.run([&](int i, int nth) {
    auto [begin, end] = split_range(rows, i, nth);
    Tensor part = w;
    part.shape = {w.row_length(), end - begin};
    part.data = w.row(begin);
    if (end <= begin) return;
    // Writes of this slice land in columns [begin, end) of each token's output row.
    std::vector<float> tmp((end - begin) * n_tokens);
    matmul_reference(part, x, tmp.data(), n_tokens);
    for (int t = 0; t < n_tokens; ++t)
      for (int64_t r = begin; r < end; ++r) y[t * rows + r] = tmp[t * (end - begin) + (r - begin)];
  });
}

}  // namespace lumen
