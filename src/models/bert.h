#pragma once
// BERT, the encoder-only member of the family (seed 004): word + position + token-type
// embeddings and a LayerNorm, then n_layers post-norm encoder layers —
//     x = LayerNorm(x + Wo · attention(x))      (bidirectional: every token sees its whole text)
//     x = LayerNorm(x + down(gelu_erf(up x)))
// — and a pooled vector per text: the [CLS] row, or the mean of the text's rows, optionally
// scaled to unit length. Several texts run as one packed batch of rows: each row attends only
// to the rows of its own text, so one matrix product per weight serves every text and no
// padding is computed (a padding mask over padded texts gives the same numbers).
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "models/encoder_layers.h"
#include "tensor/mapped_file.h"
#include "tokenizer/vocab.h"

namespace lumen {

enum class Pooling { Cls, Mean };
Pooling parse_pooling(const std::string& name);  // "cls" | "mean"; anything else is an error
const char* pooling_name(Pooling p);

struct BertConfig {
  int32_t dim = 0;            // hidden_size
  int32_t hidden_dim = 0;     // intermediate_size
  int32_t n_layers = 0;
  int32_t n_heads = 0;
  int32_t vocab_size = 0;
  int32_t max_positions = 0;  // max_position_embeddings: the longest text, [CLS] and [SEP] included
  int32_t n_token_types = 0;  // type_vocab_size (segments A/B)
  float eps = 1e-12f;         // layer_norm_eps
  Pooling pooling = Pooling::Cls;  // the model's own choice (GGUF bert.pooling_type); --pooling overrides

  int32_t head_dim() const { return dim / n_heads; }
};

// Fails with a message naming the first field out of range or inconsistent.
void validate(const BertConfig& c);

struct BertLayer {
  Linear q, k, v, o;
  LayerNormWeights attn_norm;  // after the attention residual
  Linear up, down;
  LayerNormWeights out_norm;   // after the FFN residual
};

struct BertWeights {
  Tensor token_embd;  // {dim, vocab}
  Tensor pos_embd;    // {dim, max_positions}
  Tensor type_embd;   // {dim, n_token_types}
  LayerNormWeights embd_norm;
  std::vector<BertLayer> layers;
};

struct BertModel {
  std::string format;  // "safetensors" or "gguf"
  BertConfig config;
  BertWeights weights;
  Vocab vocab;
  std::vector<Tensor> tensors;  // every tensor of the file(s), for listings
  std::vector<std::shared_ptr<const MappedFile>> files;
};

// The pooled embedding of each token sequence (ids with [CLS] ... [SEP] already in place), one
// row of config.dim floats per sequence. An empty sequence, an id outside the vocabulary or a
// sequence longer than max_positions is an error naming it.
std::vector<float> bert_embed(const BertModel& model, std::span<const std::vector<int32_t>> sequences, Pooling pooling,
                              bool normalize, ThreadPool& pool);

// The same for texts, each tokenized with the model's WordPiece vocabulary as [CLS] text [SEP];
// an empty text is an error (it would embed the markers alone).
std::vector<float> bert_embed_texts(const BertModel& model, std::span<const std::string> texts, Pooling pooling,
                                    bool normalize, ThreadPool& pool);

}  // namespace lumen
