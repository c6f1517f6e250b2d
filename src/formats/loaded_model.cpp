#include "formats/loaded_model.h"

#include <cstring>

#include "formats/gguf_model.h"
#include "formats/llama2c.h"
#include "util/error.h"

namespace lumen {
namespace {

void expect_shape(const Tensor& t, const char* role, std::vector<int64_t> shape) {
  if (!t.present()) fail("model is missing its ", role, " tensor");
  if (t.shape != shape)
    fail("tensor '", t.name, "' has shape ", shape_string(t.shape), " but the model's hyper-parameters need ",
         shape_string(shape));
}

}  // namespace

void check_weights(const ModelConfig& c, const ModelWeights& w) {
  const int64_t dim = c.dim, kv = c.kv_dim(), hid = c.hidden_dim, vocab = c.vocab_size;
  expect_shape(w.token_embd, "token embedding", {dim, vocab});
  expect_shape(w.output_norm, "output norm", {dim});
  expect_shape(w.output, "output (classifier)", {dim, vocab});
  if (int64_t(w.layers.size()) != c.n_layers)
    fail("model has ", w.layers.size(), " layers of tensors but its hyper-parameters say ", c.n_layers);
  for (const LayerWeights& l : w.layers) {
    expect_shape(l.attn_norm, "attention norm", {dim});
    expect_shape(l.wq, "attention query", {dim, dim});
    expect_shape(l.wk, "attention key", {dim, kv});
    expect_shape(l.wv, "attention value", {dim, kv});
    expect_shape(l.wo, "attention output", {dim, dim});
    expect_shape(l.ffn_norm, "feed-forward norm", {dim});
    expect_shape(l.w_gate, "feed-forward gate", {dim, hid});
    expect_shape(l.w_up, "feed-forward up", {dim, hid});
    expect_shape(l.w_down, "feed-forward down", {hid, dim});
  }
}

std::unique_ptr<LoadedModel> load_model(const std::string& model_path, const std::string& tokenizer_path) {
  auto file = std::make_shared<const MappedFile>(model_path);
  std::unique_ptr<LoadedModel> model;
  if (file->size() >= 4 && std::memcmp(file->data(), "GGUF", 4) == 0) {
    model = load_gguf_model(file);
  } else {
    model = load_llama2c_model(file, tokenizer_path);
  }
  check_weights(model->config, model->weights);
  if (model->vocab.size() != model->config.vocab_size)
    fail(model_path, ": tokenizer has ", model->vocab.size(), " tokens but the model's vocabulary is ",
         model->config.vocab_size);
  return model;
}

}  // namespace lumen
