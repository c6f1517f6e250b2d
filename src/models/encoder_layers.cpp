#include "models/encoder_layers.h"

#include <algorithm>
#include <climits>

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "util/error.h"

namespace lumen {

void Linear::apply(const float* x, float* y, int32_t n, ThreadPool& pool) const {
  matmul(weight, x, y, n, pool);
  add_bias(y, bias.data(), n, out());
}

Linear make_linear(const Tensor& weight, const Tensor& bias, int64_t in, int64_t out) {
  expect_tensor_shape(weight, "projection", {in, out});
  expect_tensor_shape(bias, "projection bias", {out});
  return Linear{weight, widen(bias)};
}

void LayerNormWeights::apply(float* x, int64_t rows) const {
  const int64_t dim = int64_t(weight.size());
  for (int64_t r = 0; r < rows; ++r) layernorm(x + r * dim, x + r * dim, weight.data(), bias.data(), dim, eps);
}

LayerNormWeights make_layernorm(const Tensor& weight, const Tensor& bias, int64_t dim, float eps) {
  expect_tensor_shape(weight, "LayerNorm weight", {dim});
  expect_tensor_shape(bias, "LayerNorm bias", {dim});
  return LayerNormWeights{widen(weight), widen(bias), eps};
}

void attend_rows(const AttentionRows& a, std::span<const KeySpan> spans, std::vector<float>& scratch, ThreadPool& pool) {
  int32_t longest = 1;
  for (const KeySpan& s : spans) longest = std::max(longest, s.count);
  if (scratch.size() < size_t(pool.size()) * size_t(longest)) scratch.resize(size_t(pool.size()) * size_t(longest));
  // Contiguous rows are one block of a block table that never ends: position p is row p.
  static const int32_t kSingleBlock[1] = {0};
  const int64_t items = int64_t(spans.size()) * a.n_heads;
  const int64_t kv_row_bytes = a.kv_stride * int64_t(sizeof(float));
  pool.run([&](int i, int nth) {
    float* scores = &scratch[size_t(i) * size_t(longest)];
    auto [begin, end] = split_range(items, i, nth);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t r = item / a.n_heads, h = item % a.n_heads;
      const KeySpan s = spans[size_t(r)];
      const int64_t first = int64_t(s.begin) * a.kv_stride + h * a.head_dim;
      const KvView keys{reinterpret_cast<const uint8_t*>(a.k + first), DType::F32, kv_row_bytes};
      const KvView values{reinterpret_cast<const uint8_t*>(a.v + first), DType::F32, kv_row_bytes};
      const AttentionHead head{a.q + r * a.q_stride + h * a.head_dim, keys, values, kSingleBlock, INT_MAX,
                               a.head_dim, s.count};
      attend(head, scores, a.out + r * a.out_stride + h * a.head_dim);
    }
  });
}

}  // namespace lumen
