#include "models/encoder_decoder.h"

#include <algorithm>
#include <climits>
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
  for (auto* caches : {&cross_k_, &cross_v_}) caches->assign(size_t(c.n_decoder_layers), std::vector<float>(rows * d));
  for (auto* caches : {&self_k_, &self_v_}) caches->resize(size_t(c.n_decoder_layers));
  reserve_rows(1);
  scratch_.resize(size_t(pool.size()) * rows);
}

void Translator::reserve_rows(int32_t rows) {
  if (rows <= rows_) return;
  const Seq2SeqConfig& c = model_.config;
  const size_t d = size_t(c.d_model), activations = size_t(std::max(c.max_len, rows));
  for (auto* buf : {&x_, &q_, &k_, &v_, &att_, &tmp_}) buf->resize(activations * d);
  ffn_.resize(activations * size_t(c.ffn_dim));
  const size_t cache = size_t(rows) * size_t(c.max_len) * d;
  for (auto* caches : {&self_k_, &self_v_})
    for (std::vector<float>& layer : *caches) layer.resize(cache);
  spare_.resize(cache);
  logits_.resize(size_t(rows) * size_t(c.tgt_vocab_size));
  spans_.reserve(activations);
  cross_spans_.reserve(size_t(rows));
  rows_ = rows;
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

void Translator::start(std::span<const int32_t> source, int32_t max_tokens, int32_t rows) {
  const Seq2SeqConfig& c = model_.config;
  if (source.empty()) fail("the source has no tokens");
  if (int64_t(source.size()) > c.max_len)
    fail("the source has ", source.size(), " tokens but the model takes at most max_len = ", c.max_len);
  if (max_tokens < 1 || max_tokens > c.max_len)
    fail("cannot generate ", max_tokens, " tokens: the model's target holds 1..", c.max_len, " (max_len)");
  for (int32_t id : source)
    if (id < 0 || id >= c.src_vocab_size) fail("source token id ", id, " is outside the vocabulary (", c.src_vocab_size, ")");
  // Row r's cached positions are key rows r * max_len onwards, and key indices are 32-bit.
  if (rows < 1 || int64_t(rows) * c.max_len > INT32_MAX)
    fail("cannot decode ", rows, " target sequences at once with max_len = ", c.max_len);
  reserve_rows(rows);
  encode(source);
}

const float* Translator::step(std::span<const int32_t> tokens, int32_t pos) {
  const Seq2SeqConfig& c = model_.config;
  const int32_t n = int32_t(tokens.size()), d = c.d_model;
  if (n < 1 || n > rows_) fail("a decoder step runs 1..", rows_, " target sequences, not ", n);
  if (pos < 0 || pos >= c.max_len) fail("target position ", pos, " is outside 0..", c.max_len - 1, " (max_len)");
  const size_t row_cache = size_t(c.max_len) * size_t(d);
  float* y = x_.data();  // the encoder's rows are spent: the memory lives on in cross_k_/cross_v_
  spans_.clear();
  cross_spans_.clear();
  for (int32_t r = 0; r < n; ++r) {
    embed(model_.weights.tgt_embed, tokens[size_t(r)], pos, y + size_t(r) * d);
    spans_.push_back({r * c.max_len, pos + 1});  // causal: row r's positions 0..pos
    cross_spans_.push_back({0, source_len_});     // every row reads the one memory
  }
  for (size_t l = 0; l < model_.weights.decoder.size(); ++l) {
    const DecoderLayerWeights& w = model_.weights.decoder[l];
    w.self_attn.q.apply(y, q_.data(), n, pool_);
    w.self_attn.k.apply(y, k_.data(), n, pool_);
    w.self_attn.v.apply(y, v_.data(), n, pool_);
    for (int32_t r = 0; r < n; ++r) {  // into each row's cache at pos: the rows' caches are not adjacent
      const size_t at = size_t(r) * row_cache + size_t(pos) * d;
      std::copy_n(&k_[size_t(r) * d], d, &self_k_[l][at]);
      std::copy_n(&v_[size_t(r) * d], d, &self_v_[l][at]);
    }
    attend_rows({q_.data(), d, self_k_[l].data(), self_v_[l].data(), d, att_.data(), d, c.n_heads, c.head_dim()},
                spans_, scratch_, pool_);
    w.self_attn.o.apply(att_.data(), tmp_.data(), n, pool_);
    add_into(y, tmp_.data(), int64_t(n) * d);
    w.norm1.apply(y, n);

    w.cross_attn.q.apply(y, q_.data(), n, pool_);
    attend_rows({q_.data(), d, cross_k_[l].data(), cross_v_[l].data(), d, att_.data(), d, c.n_heads, c.head_dim()},
                cross_spans_, scratch_, pool_);
    w.cross_attn.o.apply(att_.data(), tmp_.data(), n, pool_);
    add_into(y, tmp_.data(), int64_t(n) * d);
    w.norm2.apply(y, n);

    w.linear1.apply(y, ffn_.data(), n, pool_);
    relu(ffn_.data(), int64_t(n) * c.ffn_dim);
    w.linear2.apply(ffn_.data(), tmp_.data(), n, pool_);
    add_into(y, tmp_.data(), int64_t(n) * d);
    w.norm3.apply(y, n);
  }
  model_.weights.decoder_norm.apply(y, n);
  model_.weights.generator.apply(y, logits_.data(), n, pool_);
  return logits_.data();
}

void Translator::reorder(std::span<const int32_t> parents, int32_t positions) {
  const Seq2SeqConfig& c = model_.config;
  if (int32_t(parents.size()) > rows_) fail("cannot reorder ", parents.size(), " target sequences: there are ", rows_);
  if (positions < 0 || positions > c.max_len) fail("cannot reorder ", positions, " positions: max_len is ", c.max_len);
  for (int32_t p : parents)
    if (p < 0 || p >= rows_) fail("target sequence ", p, " is outside 0..", rows_ - 1);
  // A gather into the spare cache, which then takes the layer's place: several rows may continue
  // one parent, and a row may be another's parent, so rows cannot be moved in place. Each step
  // copies layers x 2 x rows x positions x d_model floats.
  const size_t row_cache = size_t(c.max_len) * size_t(c.d_model), filled = size_t(positions) * size_t(c.d_model);
  for (auto* caches : {&self_k_, &self_v_})
    for (std::vector<float>& layer : *caches) {
      for (size_t r = 0; r < parents.size(); ++r)
        std::copy_n(&layer[size_t(parents[r]) * row_cache], filled, &spare_[r * row_cache]);
      layer.swap(spare_);
    }
}

std::vector<int32_t> Translator::translate(std::span<const int32_t> source, int32_t max_tokens,
                                           std::vector<float>* logits) {
  const Seq2SeqConfig& c = model_.config;
  start(source, max_tokens, 1);
  std::vector<int32_t> out;
  int32_t token = c.bos_id;
  for (int32_t pos = 0; pos < max_tokens; ++pos) {
    const float* row = step({&token, 1}, pos);
    const float* end = row + c.tgt_vocab_size;
    if (logits) logits->insert(logits->end(), row, end);
    token = int32_t(std::max_element(row, end) - row);  // greedy; ties: lowest id
    out.push_back(token);
    if (token == c.eos_id) break;
  }
  return out;
}

}  // namespace lumen
