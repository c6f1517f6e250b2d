#pragma once
// The pieces of the encoder layers that BERT, the original encoder–decoder Transformer and ViT
// share: a biased linear projection through the matmul kernels, LayerNorm over rows, and
// multi-head attention of query rows over contiguous key/value rows where each query row sees
// its own span of keys (its sentence in a packed BERT batch, the positions decoded so far in
// the decoder, the whole source in cross-attention). Spans instead of a padding mask: packed
// sequences never pay for padding, and masking the padded keys out gives the same numbers.
#include <cstdint>
#include <span>
#include <vector>

#include "runtime/thread_pool.h"
#include "tensor/tensor.h"
#include "tensor/tensor_checks.h"  // widen, expect_tensor_shape, tensor_rows

namespace lumen {

// y = x W^T + b, for n rows of `in` floats to n rows of `out` floats.
struct Linear {
  Tensor weight;            // {in, out}
  std::vector<float> bias;  // out floats
  void apply(const float* x, float* y, int32_t n, ThreadPool& pool) const;
  int64_t in() const { return weight.shape[0]; }
  int64_t out() const { return weight.shape[1]; }
};
// Checks weight {in, out} and bias {out} (a bias is required: both families have them).
Linear make_linear(const Tensor& weight, const Tensor& bias, int64_t in, int64_t out);

// nn.MultiheadAttention's projections: q, k, v and the output projection o.
struct AttentionWeights {
  Linear q, k, v, o;
};
// From PyTorch's names: in_proj_weight {d, 3d} / in_proj_bias {3d} hold Q, K and V one after
// another (split here into views, no copy); out_proj is an ordinary Linear.
AttentionWeights make_multihead_attention(const Tensor& in_proj_weight, const Tensor& in_proj_bias,
                                          const Tensor& out_proj_weight, const Tensor& out_proj_bias, int64_t d);

// LayerNorm with weight and bias, applied in place to rows of dim floats.
struct LayerNormWeights {
  std::vector<float> weight, bias;
  float eps = 1e-5f;
  void apply(float* x, int64_t rows) const;
};
LayerNormWeights make_layernorm(const Tensor& weight, const Tensor& bias, int64_t dim, float eps);

// The keys [begin, begin + count) that one query row attends to.
struct KeySpan {
  int32_t begin = 0;
  int32_t count = 0;
};

// Multi-head scaled dot-product attention. Row r of q (stride q_stride floats) attends, head by
// head, to the key/value rows of spans[r] (stride kv_stride); head h reads floats
// [h*head_dim, (h+1)*head_dim) of every row. The result goes to row r of out (stride out_stride).
struct AttentionRows {
  const float* q;
  int64_t q_stride;
  const float* k;
  const float* v;
  int64_t kv_stride;
  float* out;
  int64_t out_stride;
  int32_t n_heads;
  int32_t head_dim;
};
// `scratch` grows to what one thread's attention needs when the longest span asks for more.
void attend_rows(const AttentionRows& a, std::span<const KeySpan> spans, std::vector<float>& scratch, ThreadPool& pool);

}  // namespace lumen
