#pragma once
// The original encoder–decoder Transformer ("Attention Is All You Need"; seeds 000/001/004),
// computed exactly as PyTorch's nn.Transformer with norm_first=False, activation ReLU and
// dropout off:
//   encoder: x = emb_src(src) * sqrt(d) + PE;  per layer x = LN1(x + SelfAttn(x));
//            x = LN2(x + W2 relu(W1 x));  memory = LN_enc(x)
//   decoder: y = emb_tgt(tgt) * sqrt(d) + PE;  per layer y = LN1(y + MaskedSelfAttn(y));
//            y = LN2(y + CrossAttn(y, memory));  y = LN3(y + W2 relu(W1 y));  logits = G LN_dec(y)
// PE is the sinusoidal encoding. Decoding runs one target token per step for each of one or
// more target sequences (rows: greedy decoding has one, beam search one per beam,
// runtime/translate_beams.h): each decoder layer caches every row's self-attention keys/values,
// and the cross-attention keys/values of the memory are computed once per request and read by
// all rows. The file format (formats/seq2seq_files.h) is in docs/FORMATS.md.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "models/encoder_layers.h"
#include "tensor/mapped_file.h"
#include "tokenizer/word_vocab.h"

namespace lumen {

struct Seq2SeqConfig {
  int32_t d_model = 0;
  int32_t n_heads = 0;
  int32_t n_encoder_layers = 0;
  int32_t n_decoder_layers = 0;
  int32_t ffn_dim = 0;  // dim_feedforward
  int32_t src_vocab_size = 0;
  int32_t tgt_vocab_size = 0;
  int32_t max_len = 0;  // positions of the encoding table: the longest source or target
  float eps = 1e-5f;    // layer_norm_eps
  int32_t pad_id = 0, bos_id = 1, eos_id = 2, unk_id = 3;  // shared by both vocabularies

  int32_t head_dim() const { return d_model / n_heads; }
};

// Fails with a message naming the first field out of range or inconsistent.
void validate(const Seq2SeqConfig& c);

struct EncoderLayerWeights {
  AttentionWeights self_attn;
  LayerNormWeights norm1;
  Linear linear1, linear2;
  LayerNormWeights norm2;
};

struct DecoderLayerWeights {
  AttentionWeights self_attn;
  LayerNormWeights norm1;
  AttentionWeights cross_attn;  // nn.TransformerDecoderLayer's multihead_attn
  LayerNormWeights norm2;
  Linear linear1, linear2;
  LayerNormWeights norm3;
};

struct Seq2SeqWeights {
  Tensor src_embed;  // {d_model, src_vocab}
  Tensor tgt_embed;  // {d_model, tgt_vocab}
  std::vector<EncoderLayerWeights> encoder;
  LayerNormWeights encoder_norm;
  std::vector<DecoderLayerWeights> decoder;
  LayerNormWeights decoder_norm;
  Linear generator;  // d_model -> tgt_vocab
};

struct Seq2SeqModel {
  Seq2SeqConfig config;
  Seq2SeqWeights weights;
  WordVocab src_vocab, tgt_vocab;
  std::vector<Tensor> tensors;  // every tensor of the file(s), for listings
  std::vector<std::shared_ptr<const MappedFile>> files;
};

// Decoding with buffers sized for the model's max_len; a greedy request allocates nothing, a
// search over more rows than any before grows them once.
class Translator {
 public:
  Translator(const Seq2SeqModel& model, ThreadPool& pool);

  const Seq2SeqConfig& config() const { return model_.config; }

  // The target ids after BOS, up to and including EOS, at most max_tokens of them. `source`:
  // the source ids (EOS already appended). logits, when given, receives one row of tgt_vocab
  // floats per generated token.
  std::vector<int32_t> translate(std::span<const int32_t> source, int32_t max_tokens, std::vector<float>* logits);

  // A text's source ids: its words, then EOS.
  std::vector<int32_t> source_ids(std::string_view text) const;

  // Step by step, for a search over several target sequences at once (greedy translate() is the
  // one-row case). start() checks the source and the token budget (1..max_len target tokens),
  // encodes the source and readies a self-attention cache for `rows` target sequences.
  void start(std::span<const int32_t> source, int32_t max_tokens, int32_t rows);
  // Runs tokens[r] at position pos as the next token of row r (at most `rows` of them; each has
  // run positions 0..pos-1), all rows in one batched pass. Returns tokens.size() rows of
  // tgt_vocab logits, valid until the next step.
  const float* step(std::span<const int32_t> tokens, int32_t pos);
  // Row r continues row parents[r]: it takes a copy of that row's cached positions
  // 0..positions-1 (a beam search's reordering after each step).
  void reorder(std::span<const int32_t> parents, int32_t positions);

 private:
  void encode(std::span<const int32_t> source);
  // Grows the buffers for steps of `rows` rows.
  void reserve_rows(int32_t rows);
  void embed(const Tensor& table, int32_t token, int32_t pos, float* out) const;

  const Seq2SeqModel& model_;
  ThreadPool& pool_;
  std::vector<float> positions_;  // max_len x d_model sinusoidal encodings
  int32_t source_len_ = 0;
  int32_t rows_ = 0;  // target sequences the self-attention caches hold
  // Activations (max(max_len, rows) rows of d_model, or ffn_dim, each); the memory's
  // cross-attention K/V per decoder layer (max_len x d_model); the decoder's self-attention K/V
  // cache per layer, max_len x d_model per row, row after row; spare_, the size of one cache,
  // which reorder() gathers into and then swaps with it.
  std::vector<float> x_, q_, k_, v_, att_, tmp_, ffn_;
  std::vector<std::vector<float>> cross_k_, cross_v_, self_k_, self_v_;
  std::vector<float> spare_, logits_, scratch_;
  std::vector<KeySpan> spans_, cross_spans_;
};

}  // namespace lumen
