#include "models/bert.h"

#include <algorithm>
#include <cmath>

#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace lumen {

Pooling parse_pooling(const std::string& name) {
  if (name == "cls") return Pooling::Cls;
  if (name == "mean") return Pooling::Mean;
  fail("unknown pooling '", name, "' (known: cls, mean)");
}

const char* pooling_name(Pooling p) { return p == Pooling::Cls ? "cls" : "mean"; }

void validate(const BertConfig& c) {
  auto positive = [](const char* name, int64_t v, int64_t limit) {
    if (v <= 0 || v > limit) fail("BERT hyper-parameter ", name, " = ", v, " is out of range (1..", limit, ")");
  };
  positive("hidden_size", c.dim, 1 << 20);
  positive("intermediate_size", c.hidden_dim, 1 << 22);
  positive("num_hidden_layers", c.n_layers, 4096);
  positive("num_attention_heads", c.n_heads, 4096);
  positive("vocab_size", c.vocab_size, 1 << 24);
  positive("max_position_embeddings", c.max_positions, 1 << 24);
  positive("type_vocab_size", c.n_token_types, 1 << 16);
  if (c.dim % c.n_heads) fail("hidden_size ", c.dim, " is not divisible by num_attention_heads ", c.n_heads);
  if (!(c.eps > 0.0f) || c.eps > 1.0f) fail("layer_norm_eps ", c.eps, " is out of range");
}

namespace {

// Row i of an embedding table added into out (dim floats).
void add_row(const Tensor& table, int64_t i, float* out, float* tmp, int64_t dim) {
  dequantize_row(table.type, table.row(i), tmp, dim);
  add_into(out, tmp, dim);
}

}  // namespace

std::vector<float> bert_embed(const BertModel& model, std::span<const std::vector<int32_t>> sequences, Pooling pooling,
                              bool normalize, ThreadPool& pool) {
  const BertConfig& c = model.config;
  const BertWeights& w = model.weights;
  const int64_t dim = c.dim, hid = c.hidden_dim;
  if (sequences.empty()) fail("nothing to embed: no texts were given");

  // Rows of every text, one after another; each row attends to its own text's span.
  std::vector<KeySpan> spans;
  for (size_t s = 0; s < sequences.size(); ++s) {
    const auto& ids = sequences[s];
    if (ids.empty()) fail("text ", s + 1, " has no tokens");
    if (int64_t(ids.size()) > c.max_positions)
      fail("text ", s + 1, " has ", ids.size(), " tokens but the model takes at most ", c.max_positions);
    const KeySpan span{int32_t(spans.size()), int32_t(ids.size())};
    for (int32_t id : ids) {
      if (id < 0 || id >= c.vocab_size) fail("token id ", id, " is outside the vocabulary (", c.vocab_size, ")");
      spans.push_back(span);
    }
  }
  const int32_t n = int32_t(spans.size());
  std::vector<float> x(size_t(n) * dim), q(x.size()), k(x.size()), v(x.size()), att(x.size()), tmp(x.size());
  std::vector<float> h(size_t(n) * hid), scratch;

  // Embeddings: word + position + token type (segment A: one text per input).
  int32_t row = 0;
  for (const auto& ids : sequences)
    for (size_t i = 0; i < ids.size(); ++i, ++row) {
      float* xr = &x[size_t(row) * dim];
      dequantize_row(w.token_embd.type, w.token_embd.row(ids[i]), xr, dim);
      add_row(w.pos_embd, int64_t(i), xr, tmp.data(), dim);
      add_row(w.type_embd, 0, xr, tmp.data(), dim);
    }
  w.embd_norm.apply(x.data(), n);

  for (const BertLayer& l : w.layers) {
    l.q.apply(x.data(), q.data(), n, pool);
    l.k.apply(x.data(), k.data(), n, pool);
    l.v.apply(x.data(), v.data(), n, pool);
    attend_rows({q.data(), dim, k.data(), v.data(), dim, att.data(), dim, c.n_heads, c.head_dim()}, spans, scratch, pool);
    l.o.apply(att.data(), tmp.data(), n, pool);
    add_into(x.data(), tmp.data(), int64_t(n) * dim);
    l.attn_norm.apply(x.data(), n);
    l.up.apply(x.data(), h.data(), n, pool);
    gelu_erf(h.data(), int64_t(n) * hid);
    l.down.apply(h.data(), tmp.data(), n, pool);
    add_into(x.data(), tmp.data(), int64_t(n) * dim);
    l.out_norm.apply(x.data(), n);
  }

  std::vector<float> out(sequences.size() * size_t(dim), 0.0f);
  row = 0;
  for (size_t s = 0; s < sequences.size(); ++s) {
    float* o = &out[s * size_t(dim)];
    const int32_t len = int32_t(sequences[s].size());
    if (pooling == Pooling::Cls) {
      std::copy_n(&x[size_t(row) * dim], dim, o);
    } else {  // the mean over every token of the text, [CLS] and [SEP] included
      for (int32_t i = 0; i < len; ++i) add_into(o, &x[size_t(row + i) * dim], dim);
      for (int64_t d = 0; d < dim; ++d) o[d] /= float(len);
    }
    if (normalize) {
      double ss = 0.0;
      for (int64_t d = 0; d < dim; ++d) ss += double(o[d]) * o[d];
      const float scale = ss > 0.0 ? float(1.0 / std::sqrt(ss)) : 0.0f;
      for (int64_t d = 0; d < dim; ++d) o[d] *= scale;
    }
    row += len;
  }
  return out;
}

std::vector<float> bert_embed_texts(const BertModel& model, std::span<const std::string> texts, Pooling pooling,
                                    bool normalize, ThreadPool& pool) {
  const std::unique_ptr<Tokenizer> tokenizer = make_tokenizer(model.vocab);
  std::vector<std::vector<int32_t>> sequences;
  for (size_t i = 0; i < texts.size(); ++i) {
    if (texts[i].empty()) fail("text ", i + 1, " is empty");
    sequences.push_back(tokenizer->encode(texts[i], true));
  }
  return bert_embed(model, sequences, pooling, normalize, pool);
}

}  // namespace lumen
