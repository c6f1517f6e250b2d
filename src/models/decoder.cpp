#include "models/decoder.h"

#include <algorithm>

#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "util/error.h"

namespace lumen {
namespace {

std::vector<float> widen(const Tensor& t) {
  std::vector<float> out(t.elements());
  dequantize_row(t.type, t.data, out.data(), t.elements());
  return out;
}

}  // namespace

Decoder::Decoder(const LoadedModel& model, int32_t context_length, ThreadPool& pool)
    : config_(model.config),
      weights_(model.weights),
      pool_(pool),
      cache_(model.config.n_layers,
             context_length > 0 ? std::min(context_length, model.config.context_length) : model.config.context_length,
             model.config.kv_dim()),
      rope_(model.config.rotary_dims(), cache_.context_length(), model.config.rope_freq_base) {
  const ModelConfig& c = config_;
  for (const LayerWeights& l : weights_.layers) {
    attn_norm_.push_back(widen(l.attn_norm));
    ffn_norm_.push_back(widen(l.ffn_norm));
  }
  output_norm_ = widen(weights_.output_norm);
  const size_t B = kMaxBatch;
  x_.resize(B * c.dim);
  xb_.resize(B * c.dim);
  q_.resize(B * c.dim);
  att_.resize(B * c.dim);
  k_.resize(B * c.kv_dim());
  v_.resize(B * c.kv_dim());
  hb_.resize(B * c.hidden_dim);
  hb2_.resize(B * c.hidden_dim);
  scores_.resize(size_t(pool.size()) * cache_.context_length());
}

void Decoder::forward(std::span<const int32_t> tokens, int32_t pos, float* logits) {
  run(tokens, pos, logits, false);
}

void Decoder::forward_all_logits(std::span<const int32_t> tokens, int32_t pos, float* logits) {
  run(tokens, pos, logits, true);
}

void Decoder::run(std::span<const int32_t> tokens, int32_t pos, float* logits, bool all_logits) {
  const int64_t n = int64_t(tokens.size());
  if (n == 0) fail("forward pass needs at least one token");
  if (pos < 0 || pos + n > cache_.context_length())
    fail("positions ", pos, "..", pos + n - 1, " do not fit the context of ", cache_.context_length(), " tokens");
  for (int32_t t : tokens)
    if (t < 0 || t >= config_.vocab_size) fail("token id ", t, " is outside the vocabulary (", config_.vocab_size, ")");
  for (int64_t start = 0; start < n; start += kMaxBatch) {
    const int32_t len = int32_t(std::min<int64_t>(kMaxBatch, n - start));
    const bool last = start + len == n;
    // Only the classifier rows asked for are computed: all of them, or the final token's.
    float* out = all_logits ? logits + start * config_.vocab_size : (last ? logits : nullptr);
    run_batch(tokens.data() + start, len, pos + int32_t(start), out, all_logits);
  }
}

void Decoder::run_batch(const int32_t* tokens, int32_t n, int32_t pos, float* logits, bool all_logits) {
  const ModelConfig& c = config_;
  const int32_t dim = c.dim, kv_dim = c.kv_dim(), hid = c.hidden_dim;

  for (int32_t t = 0; t < n; ++t)
    dequantize_row(weights_.token_embd.type, weights_.token_embd.row(tokens[t]), &x_[size_t(t) * dim], dim);

  for (int32_t l = 0; l < c.n_layers; ++l) {
    const LayerWeights& w = weights_.layers[l];
    for (int32_t t = 0; t < n; ++t)
      rmsnorm(&xb_[size_t(t) * dim], &x_[size_t(t) * dim], attn_norm_[l].data(), dim, c.rms_eps);
    matmul(w.wq, xb_.data(), q_.data(), n, pool_);
    matmul(w.wk, xb_.data(), k_.data(), n, pool_);
    matmul(w.wv, xb_.data(), v_.data(), n, pool_);
    for (int32_t t = 0; t < n; ++t) {
      rope_.apply(&q_[size_t(t) * dim], c.n_heads, c.head_dim(), pos + t, c.rope_style);
      rope_.apply(&k_[size_t(t) * kv_dim], c.n_kv_heads, c.head_dim(), pos + t, c.rope_style);
      std::copy_n(&k_[size_t(t) * kv_dim], kv_dim, cache_.key(l, pos + t));
      std::copy_n(&v_[size_t(t) * kv_dim], kv_dim, cache_.value(l, pos + t));
    }
    attention(l, n, pos);
    matmul(w.wo, att_.data(), xb_.data(), n, pool_);
    add_into(x_.data(), xb_.data(), int64_t(n) * dim);

    for (int32_t t = 0; t < n; ++t)
      rmsnorm(&xb_[size_t(t) * dim], &x_[size_t(t) * dim], ffn_norm_[l].data(), dim, c.rms_eps);
    matmul(w.w_gate, xb_.data(), hb_.data(), n, pool_);
    matmul(w.w_up, xb_.data(), hb2_.data(), n, pool_);
    swiglu(hb_.data(), hb2_.data(), int64_t(n) * hid);
    matmul(w.w_down, hb_.data(), xb_.data(), n, pool_);
    add_into(x_.data(), xb_.data(), int64_t(n) * dim);
  }

  if (!logits) return;
  // Final norm and classifier, for every token or only the last one.
  const int32_t first = all_logits ? 0 : n - 1;
  for (int32_t t = first; t < n; ++t)
    rmsnorm(&xb_[size_t(t - first) * dim], &x_[size_t(t) * dim], output_norm_.data(), dim, c.rms_eps);
  matmul(weights_.output, xb_.data(), logits, n - first, pool_);
}

void Decoder::attention(int32_t layer, int32_t n, int32_t pos) {
  const ModelConfig& c = config_;
  const int32_t head_dim = c.head_dim(), group = c.n_heads / c.n_kv_heads;
  const int64_t items = int64_t(n) * c.n_heads;
  pool_.run([&](int i, int nth) {
    float* scratch = &scores_[size_t(i) * cache_.context_length()];
    auto [begin, end] = split_range(items, i, nth);
    for (int64_t item = begin; item < end; ++item) {
      const int32_t t = int32_t(item / c.n_heads), h = int32_t(item % c.n_heads);
      const int32_t kv_head = h / group;  // GQA: `group` query heads share one KV head
      AttentionHead head{&q_[size_t(t) * c.dim + size_t(h) * head_dim],
                         cache_.key(layer, 0) + size_t(kv_head) * head_dim,
                         cache_.value(layer, 0) + size_t(kv_head) * head_dim,
                         cache_.kv_dim(),
                         head_dim,
                         pos + t + 1};
      attend(head, scratch, &att_[size_t(t) * c.dim + size_t(h) * head_dim]);
    }
  });
}

}  // namespace lumen
