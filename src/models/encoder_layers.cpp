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

AttentionWeights make_multihead_attention(const Tensor& in_proj_weight, const Tensor& in_proj_bias,
                                          const Tensor& out_proj_weight, const Tensor& out_proj_bias, int64_t d) {
  expect_tensor_shape(in_proj_weight, "attention in_proj weight", {d, 3 * d});
  expect_tensor_shape(in_proj_bias, "attention in_proj bias", {3 * d});
  const std::vector<float> bias = widen(in_proj_bias);
  auto part = [&](int64_t i) {
    return Linear{tensor_rows(in_proj_weight, i * d, d),
                  std::vector<float>(bias.begin() + i * d, bias.begin() + (i + 1) * d)};
  };
  return {part(0), part(1), part(2), make_linear(out_proj_weight, out_proj_bias, d, d)};
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
  // Work items: blocks of kBlockRows consecutive rows x one head. The rows of a block whose spans
  // start at the same key (one text in a BERT batch, every row in cross-attention) are one group
  // of queries for attend(), which reads those keys once for all of them.
  constexpr int32_t kBlockRows = 16;
  int32_t longest = 1;
  for (const KeySpan& s : spans) longest = std::max(longest, s.count);
  const size_t per_thread = attention_scratch_floats(kBlockRows, longest, a.head_dim);
  if (scratch.size() < size_t(pool.size()) * per_thread) scratch.resize(size_t(pool.size()) * per_thread);
  // Contiguous rows are one block of a block table that never ends: position p is row p.
  static const int32_t kSingleBlock[1] = {0};
  const int32_t n_rows = int32_t(spans.size());
  const int64_t items = int64_t((n_rows + kBlockRows - 1) / kBlockRows) * a.n_heads;
  const int64_t kv_row_bytes = a.kv_stride * int64_t(sizeof(float));
  pool.run([&](int i, int nth) {
    float* thread_scratch = &scratch[size_t(i) * per_thread];
    AttentionQuery queries[kBlockRows];
    auto [begin, end] = split_range(items, i, nth);
    for (int64_t item = begin; item < end; ++item) {
      const int32_t block = int32_t(item / a.n_heads), block_end = std::min(n_rows, (block + 1) * kBlockRows);
      const int64_t h = item % a.n_heads;
      for (int32_t r = block * kBlockRows; r < block_end;) {
        const int32_t key0 = spans[size_t(r)].begin;
        const int64_t first = int64_t(key0) * a.kv_stride + h * a.head_dim;
        const KvView keys{reinterpret_cast<const uint8_t*>(a.k + first), DType::F32, kv_row_bytes};
        const KvView values{reinterpret_cast<const uint8_t*>(a.v + first), DType::F32, kv_row_bytes};
        int32_t count = 0;
        for (; r < block_end && spans[size_t(r)].begin == key0; ++r, ++count)
          queries[count] = {a.q + r * a.q_stride + h * a.head_dim, a.out + r * a.out_stride + h * a.head_dim,
                            spans[size_t(r)].count};
        attend(KvHead{keys, values, kSingleBlock, INT_MAX, a.head_dim}, {queries, size_t(count)}, thread_scratch);
      }
    }
  });
}

}  // namespace lumen
