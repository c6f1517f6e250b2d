#include "formats/llama2c.h"

#include <climits>
#include <cstdlib>
#include <cstring>

#include "formats/llama2c_tokenizer.h"
#include "util/error.h"

namespace lumen {
namespace {

constexpr uint32_t kVersionedMagic = 0x616b3432;  // "ak42": llama2.c export versions 1 and 2

struct Header {
  int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
};

// Hands out consecutive float32 tensors from the file, checking each fits before it is taken.
class TensorCursor {
 public:
  TensorCursor(LoadedModel& model, const MappedFile& file, size_t offset)
      : model_(model), file_(file), offset_(offset) {}

  Tensor take(std::string name, std::vector<int64_t> shape) {
    Tensor t{std::move(name), DType::F32, std::move(shape), nullptr};
    skip(size_t(t.elements()) * sizeof(float), t.name);
    t.data = file_.data() + offset_ - size_t(t.elements()) * sizeof(float);
    model_.tensors.push_back(t);
    return t;
  }
  void skip(size_t bytes, const std::string& what) {
    if (bytes > file_.size() - offset_)
      fail(file_.path(), ": file ends inside ", what, " (truncated or header dimensions wrong)");
    offset_ += bytes;
  }
  size_t offset() const { return offset_; }

 private:
  LoadedModel& model_;
  const MappedFile& file_;
  size_t offset_;
};

ModelConfig config_from(const Header& h, const std::string& path) {
  ModelConfig c;
  c.architecture = "llama";
  c.dim = h.dim;
  c.hidden_dim = h.hidden_dim;
  c.n_layers = h.n_layers;
  c.n_heads = h.n_heads;
  c.n_kv_heads = h.n_kv_heads;
  const int64_t vocab = std::abs(int64_t(h.vocab_size));  // negative: separate classifier
  c.vocab_size = vocab > INT32_MAX ? 0 : int32_t(vocab);   // 0 fails validate() below
  c.context_length = h.seq_len;
  c.rope_style = RopeStyle::Adjacent;
  try {
    validate(c);
  } catch (const Error& e) {
    fail(path, ": not a valid llama2.c checkpoint: ", e.what());
  }
  return c;
}

}  // namespace

std::unique_ptr<LoadedModel> load_llama2c_model(std::shared_ptr<const MappedFile> file,
                                                const std::string& tokenizer_path) {
  const std::string& path = file->path();
  Header h{};
  if (file->size() < sizeof(h)) fail(path, ": file too short for a llama2.c header (", file->size(), " bytes)");
  std::memcpy(&h, file->data(), sizeof(h));
  if (uint32_t(h.dim) == kVersionedMagic)
    fail(path, ": llama2.c export version ", h.hidden_dim, " is not supported (only the legacy float32 format)");

  auto model = std::make_unique<LoadedModel>();
  model->format = "llama2.c";
  model->config = config_from(h, path);
  const ModelConfig& c = model->config;
  const bool shared_classifier = h.vocab_size > 0;
  const int64_t dim = c.dim, kv = c.kv_dim(), hid = c.hidden_dim, L = c.n_layers;

  // Every size below fits in 64 bits: validate() bounded each factor.
  TensorCursor cur(*model, *file, sizeof(Header));
  ModelWeights& w = model->weights;
  w.token_embd = cur.take("token_embd.weight", {dim, c.vocab_size});
  w.layers.resize(L);
  auto per_layer = [&](Tensor LayerWeights::*member, const char* name, std::vector<int64_t> shape) {
    for (int64_t l = 0; l < L; ++l)
      w.layers[l].*member = cur.take("blk." + std::to_string(l) + "." + name + ".weight", shape);
  };
  per_layer(&LayerWeights::attn_norm, "attn_norm", {dim});
  per_layer(&LayerWeights::wq, "attn_q", {dim, dim});
  per_layer(&LayerWeights::wk, "attn_k", {dim, kv});
  per_layer(&LayerWeights::wv, "attn_v", {dim, kv});
  per_layer(&LayerWeights::wo, "attn_output", {dim, dim});
  per_layer(&LayerWeights::ffn_norm, "ffn_norm", {dim});
  per_layer(&LayerWeights::w_gate, "ffn_gate", {dim, hid});
  per_layer(&LayerWeights::w_down, "ffn_down", {hid, dim});
  per_layer(&LayerWeights::w_up, "ffn_up", {dim, hid});
  w.output_norm = cur.take("output_norm.weight", {dim});
  // The legacy precomputed RoPE tables (cos and sin, seq_len x head_dim/2 each): lumen computes
  // its own, but they sit between the weights and a separate classifier.
  cur.skip(size_t(c.context_length) * c.head_dim() * sizeof(float), "the RoPE tables");
  if (shared_classifier) {
    w.output = w.token_embd;
    w.tied_output = true;
  } else {
    w.output = cur.take("output.weight", {dim, c.vocab_size});
  }
  if (cur.offset() != file->size())
    fail(path, ": ", file->size() - cur.offset(), " bytes left after the last tensor: header dimensions disagree with the file size");

  if (tokenizer_path.empty())
    fail(path, ": a llama2.c checkpoint carries no tokenizer; give one with -z TOKENIZER.bin");
  model->vocab = read_llama2c_tokenizer(tokenizer_path, c.vocab_size);
  model->files.push_back(std::move(file));
  return model;
}

}  // namespace lumen
