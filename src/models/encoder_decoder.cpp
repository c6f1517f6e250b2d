#include "models/encoder_decoder.h"

#include <algorithm>
#include <cmath>

#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "util/error.h"

namespace lumen {

void validate(const Seq2SeqConfig& c) {
  auto positive = [](const char* name, int64_t v, int64_t limit) {
    if (v <= 0 || v > limit) fail("hyper-parameter ", name, " = ", v, " is out of range (1..", limit, ")");
  };
  positive("d_model", c.d_model, 1 << 20);
  positive("nhead", c.n_heads, 4096);
  positive("num_encoder_layers", c.n_encoder_layers, 4096);
  positive("num_decoder_layers", c.n_decoder_layers, 4096);
  positive("dim_feedforward", c.ffn_dim, 1 << 22);
  positive("src_vocab_size", c.src_vocab_size, 1 << 24);
  positive("tgt_vocab_size", c.tgt_vocab_size, 1 << 24);
  positive("max_len", c.max_len, 1 << 20);
  if (c.d_model % c.n_heads) fail("d_model ", c.d_model, " is not divisible by nhead ", c.n_heads);
  if (c.d_model % 2) fail("d_model ", c.d_model, " is odd; the sinusoidal encoding pairs sin and cos");
  if (!(c.eps > 0.0f) || c.eps > 1.0f) fail("layer_norm_eps ", c.eps, " is out of range");
  const int32_t smaller = std::min(c.src_vocab_size, c.tgt_vocab_size);
  for (const auto& [name, id] : {std::pair{"pad_id", c.pad_id}, {"bos_id", c.bos_id}, {"eos_id", c.eos_id},
                                 {"unk_id", c.unk_id}})
    if (id < 0 || id >= smaller) fail(name, " ", id, " is outside the smaller vocabulary (", smaller, " tokens)");
}

Translator::Translator(const Seq2SeqModel& model, ThreadPool& pool) : model_(model), pool_(pool) {
  const Seq2SeqConfig& c = model.config;
  const size_t rows = size_t(c.max_len), d = size_t(c.d_model);
  positions_.resize(rows * d);
  for (int32_t p = 0; p < c.max_len; ++p) sinusoidal_position(&positions_[size_t(p) * d], p, c.d_model);
  for (auto* buf : {&x_, &q_, &k_, &v_, &att_, &tmp_}) buf->resize(rows * d);
  ffn_.resize(rows * size_t(c.ffn_dim));
  for (auto* caches : {&cross_k_, &cross_v_, &self_k_, &self_v_})
    caches->assign(size_t(c.n_decoder_layers), std::vector<float>(rows * d));
  logits_.resize(size_t(c.tgt_vocab_size));
  spans_.reserve(rows);
  scratch_.resize(size_t(pool.size()) * rows);
}

std::vector<int32_t> Translator::source_ids(std::string_view text) const {
  std::vector<int32_t> ids = model_.src_vocab.encode(text, model_.config.unk_id);
  if (ids.empty()) fail("the text to translate has no words");
  ids.push_back(model_.config.eos_id);
  return ids;
}

void Translator::embed(const Tensor& table, int32_t token, int32_t pos, float* out) const {
  const int32_t d = model_.config.d_model;
  dequantize_row(table.type, table.row(token), out, d);
  const float scale = std::sqrt(float(d));  // as the paper (3.4) and nn.Transformer tutorials scale it
  const float* pe = &positions_[size_t(pos) * d];
  for (int32_t i = 0; i < d; ++i) out[i] = out[i] * scale + pe[i];
}

void Translator::encode(std::span<const int32_t> source) {
  const Seq2SeqConfig& c = model_.config;
  const int32_t n = int32_t(source.size()), d = c.d_model;
  for (int32_t i = 0; i < n; ++i) embed(model_.weights.src_embed, source[size_t(i)], i, &x_[size_t(i) * d]);
  spans_.assign(size_t(n), KeySpan{0, n});  // bidirectional: every source token sees the whole source
  for (const EncoderLayerWeights& l : model_.weights.encoder) {
    l.self_attn.q.apply(x_.data(), q_.data(), n, pool_);
    l.self_attn.k.apply(x_.data(), k_.data(), n, pool_);
    l.self_attn.v.apply(x_.data(), v_.data(), n, pool_);
    attend_rows({q_.data(), d, k_.data(), v_.data(), d, att_.data(), d, c.n_heads, c.head_dim()}, spans_, scratch_, pool_);
    l.self_attn.o.apply(att_.data(), tmp_.data(), n, pool_);
    add_into(x_.data(), tmp_.data(), int64_t(n) * d);
    l.norm1.apply(x_.data(), n);
    l.linear1.apply(x_.data(), ffn_.data(), n, pool_);
    relu(ffn_.data(), int64_t(n) * c.ffn_dim);
    l.linear2.apply(ffn_.data(), tmp_.data(), n, pool_);
    add_into(x_.data(), tmp_.data(), int64_t(n) * d);
    l.norm2.apply(x_.data(), n);
  }
  model_.weights.encoder_norm.apply(x_.data(), n);
  // The memory's keys and values, once per request: every decode step reads them.
  for (size_t l = 0; l < model_.weights.decoder.size(); ++l) {
    model_.weights.decoder[l].cross_attn.k.apply(x_.data(), cross_k_[l].data(), n, pool_);
    model_.weights.decoder[l].cross_attn.v.apply(x_.data(), cross_v_[l].data(), n, pool_);
  }
  source_len_ = n;
}

void Translator::decode_step(int32_t token, int32_t pos) {
  const Seq2SeqConfig& c = model_.config;
  const int32_t d = c.d_model;
  float* y = x_.data();  // the encoder's rows are spent: the memory lives on in cross_k_/cross_v_
  embed(model_.weights.tgt_embed, token, pos, y);
  const KeySpan self_span{0, pos + 1}, cross_span{0, source_len_};  // causal: positions 0..pos
  for (size_t l = 0; l < model_.weights.decoder.size(); ++l) {
    const DecoderLayerWeights& w = model_.weights.decoder[l];
    float* k_row = &self_k_[l][size_t(pos) * d];
    float* v_row = &self_v_[l][size_t(pos) * d];
    w.self_attn.q.apply(y, q_.data(), 1, pool_);
    w.self_attn.k.apply(y, k_row, 1, pool_);
    w.self_attn.v.apply(y, v_row, 1, pool_);
    attend_rows({q_.data(), d, self_k_[l].data(), self_v_[l].data(), d, att_.data(), d, c.n_heads, c.head_dim()},
                {&self_span, 1}, scratch_, pool_);
    w.self_attn.o.apply(att_.data(), tmp_.data(), 1, pool_);
    add_into(y, tmp_.data(), d);
    w.norm1.apply(y, 1);

    w.cross_attn.q.apply(y, q_.data(), 1, pool_);
    attend_rows({q_.data(), d, cross_k_[l].data(), cross_v_[l].data(), d, att_.data(), d, c.n_heads, c.head_dim()},
                {&cross_span, 1}, scratch_, pool_);
    w.cross_attn.o.apply(att_.data(), tmp_.data(), 1, pool_);
    add_into(y, tmp_.data(), d);
    w.norm2.apply(y, 1);

    w.linear1.apply(y, ffn_.data(), 1, pool_);
    relu(ffn_.data(), c.ffn_dim);
    w.linear2.apply(ffn_.data(), tmp_.data(), 1, pool_);
    add_into(y, tmp_.data(), d);
    w.norm3.apply(y, 1);
  }
  model_.weights.decoder_norm.apply(y, 1);
  model_.weights.generator.apply(y, logits_.data(), 1, pool_);
}

std::vector<int32_t> Translator::translate(std::span<const int32_t> source, int32_t max_tokens,
                                           std::vector<float>* logits) {
  const Seq2SeqConfig& c = model_.config;
  if (source.empty()) fail("the source has no tokens");
  if (int64_t(source.size()) > c.max_len)
    fail("the source has ", source.size(), " tokens but the model takes at most max_len = ", c.max_len);
  if (max_tokens < 1 || max_tokens > c.max_len)
    fail("cannot generate ", max_tokens, " tokens: the model's target holds 1..", c.max_len, " (max_len)");
  for (int32_t id : source)
    if (id < 0 || id >= c.src_vocab_size) fail("source token id ", id, " is outside the vocabulary (", c.src_vocab_size, ")");
  encode(source);
  std::vector<int32_t> out;
  int32_t token = c.bos_id;
  for (int32_t pos = 0; pos < max_tokens; ++pos) {
    decode_step(token, pos);
    if (logits) logits->insert(logits->end(), logits_.begin(), logits_.end());
    token = int32_t(std::max_element(logits_.begin(), logits_.end()) - logits_.begin());  // greedy; ties: lowest id
    out.push_back(token);
    if (token == c.eos_id) break;
  }
  return out;
}

}  // namespace lumen
