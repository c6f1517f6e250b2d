#include "formats/loaded_model.h"

#include <cstring>
#include <filesystem>

#include "formats/gguf_model.h"
#include "formats/hf_model.h"
#include "formats/llama2c.h"
#include "tensor/tensor_checks.h"
#include "util/error.h"

namespace lumen {
namespace {

// A tensor the family may or may not have: checked only when present.
void expect_optional(const Tensor& t, const char* role, const std::vector<int64_t>& shape) {
  if (t.present()) expect_tensor_shape(t, role, shape);
}

}  // namespace

void check_weights(const ModelConfig& c, const ModelWeights& w) {
  const int64_t dim = c.dim, kv = c.kv_dim(), hid = c.hidden_dim, vocab = c.vocab_size;
  expect_tensor_shape(w.token_embd, "token embedding", {dim, vocab});
  expect_tensor_shape(w.output_norm, "output norm", {dim});
  expect_tensor_shape(w.output, "output (classifier)", {dim, vocab});
  if (c.position == PositionKind::Learned) expect_tensor_shape(w.pos_embd, "position embedding", {dim, c.context_length});
  if (c.embedding_norm) expect_tensor_shape(w.embd_norm, "embedding norm", {dim});
  expect_optional(w.embd_norm_b, "embedding norm bias", {dim});
  expect_optional(w.output_norm_b, "output norm bias", {dim});
  if (int64_t(w.layers.size()) != c.n_layers)
    fail("model has ", w.layers.size(), " layers of tensors but its hyper-parameters say ", c.n_layers);
  for (const LayerWeights& l : w.layers) {
    expect_tensor_shape(l.attn_norm, "attention norm", {dim});
    expect_tensor_shape(l.wq, "attention query", {dim, dim});
    expect_tensor_shape(l.wk, "attention key", {dim, kv});
    expect_tensor_shape(l.wv, "attention value", {dim, kv});
    expect_tensor_shape(l.wo, "attention output", {dim, dim});
    expect_tensor_shape(l.ffn_norm, "feed-forward norm", {dim});
    expect_optional(l.attn_norm_b, "attention norm bias", {dim});
    expect_optional(l.ffn_norm_b, "feed-forward norm bias", {dim});
    expect_optional(l.bq, "attention query bias", {dim});
    expect_optional(l.bk, "attention key bias", {kv});
    expect_optional(l.bv, "attention value bias", {kv});
    expect_optional(l.bo, "attention output bias", {dim});
    if (c.ffn == FfnKind::MoE) {
      expect_tensor_shape(l.router, "expert router", {dim, c.n_experts});
      if (int64_t(l.expert_gate.size()) != c.n_experts || int64_t(l.expert_up.size()) != c.n_experts ||
          int64_t(l.expert_down.size()) != c.n_experts)
        fail("model has ", l.expert_gate.size(), " experts in a layer but its hyper-parameters say ", c.n_experts);
      for (int64_t e = 0; e < c.n_experts; ++e) {
        expect_tensor_shape(l.expert_gate[e], "expert gate", {dim, hid});
        expect_tensor_shape(l.expert_up[e], "expert up", {dim, hid});
        expect_tensor_shape(l.expert_down[e], "expert down", {hid, dim});
      }
      continue;
    }
    if (c.ffn == FfnKind::SwiGLU) expect_tensor_shape(l.w_gate, "feed-forward gate", {dim, hid});
    expect_tensor_shape(l.w_up, "feed-forward up", {dim, hid});
    expect_tensor_shape(l.w_down, "feed-forward down", {hid, dim});
    expect_optional(l.b_up, "feed-forward up bias", {hid});
    expect_optional(l.b_down, "feed-forward down bias", {dim});
  }
}

void split_fused_qkv(const Tensor& weight, const Tensor& bias, int64_t dim, int64_t kv, LayerWeights& l) {
  l.wq = tensor_rows(weight, 0, dim);
  l.wk = tensor_rows(weight, dim, kv);
  l.wv = tensor_rows(weight, dim + kv, kv);
  if (!bias.present()) return;
  l.bq = tensor_rows(bias, 0, dim);
  l.bk = tensor_rows(bias, dim, kv);
  l.bv = tensor_rows(bias, dim + kv, kv);
}

std::unique_ptr<LoadedModel> load_model(const std::string& model_path, const std::string& tokenizer_path) {
  std::unique_ptr<LoadedModel> model;
  std::error_code ec;
  if (std::filesystem::is_directory(model_path, ec)) {  // a Hugging Face model folder
    model = load_hf_model(model_path, tokenizer_path);
    check_weights(model->config, model->weights);
    if (model->vocab.size() != model->config.vocab_size)
      fail(model_path, ": tokenizer has ", model->vocab.size(), " tokens but the model's vocabulary is ",
           model->config.vocab_size);
    return model;
  }
  auto file = std::make_shared<const MappedFile>(model_path);
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
