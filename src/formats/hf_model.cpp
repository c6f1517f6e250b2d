#include "formats/hf_model.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <filesystem>

#include "formats/config_json.h"
#include "formats/llama2c_tokenizer.h"
#if __has_include("formats/hf_tokenizer.h")
#include "formats/hf_tokenizer.h"
#define LUMEN_HAS_HF_TOKENIZER 1
#else
#define LUMEN_HAS_HF_TOKENIZER 0
#endif
#include "formats/safetensors.h"
#include "tensor/tensor_checks.h"
#include "util/error.h"

namespace lumen {
namespace {

namespace fs = std::filesystem;

enum class Family { Llama, Mistral, Mixtral, Qwen2, GPT2, Bloom };

Family family_of(const ConfigJson& cfg) {
  const std::string a = cfg.architecture();
  if (a == "LlamaForCausalLM") return Family::Llama;
  if (a == "MistralForCausalLM") return Family::Mistral;
  if (a == "MixtralForCausalLM") return Family::Mixtral;
  if (a == "Qwen2ForCausalLM") return Family::Qwen2;
  if (a == "GPT2LMHeadModel") return Family::GPT2;
  if (a == "BloomForCausalLM") return Family::Bloom;
  fail(cfg.path(), ": architecture '", a,
       "' is not supported (known: LlamaForCausalLM, MistralForCausalLM, MixtralForCausalLM, Qwen2ForCausalLM, "
       "GPT2LMHeadModel, BloomForCausalLM)");
}

ModelConfig llama_like_config(const ConfigJson& cfg, Family f) {
  ModelConfig c;
  c.architecture = f == Family::Qwen2 ? "qwen2" : "llama";
  c.dim = cfg.get_int("hidden_size");
  c.hidden_dim = cfg.get_int("intermediate_size");
  c.n_layers = cfg.get_int("num_hidden_layers");
  c.n_heads = cfg.get_int("num_attention_heads");
  c.n_kv_heads = cfg.opt_int("num_key_value_heads").value_or(c.n_heads);
  c.vocab_size = cfg.get_int("vocab_size");
  c.context_length = cfg.get_int("max_position_embeddings");
  c.rms_eps = cfg.get_float("rms_norm_eps");
  c.rope_freq_base = cfg.opt_float("rope_theta").value_or(10000.0f);
  c.rope_style = RopeStyle::NeoX;
  c.position = PositionKind::Rope;
  c.norm = NormKind::RMSNorm;
  c.ffn = FfnKind::SwiGLU;
  if (const auto hd = cfg.opt_int("head_dim"); hd && c.n_heads > 0 && *hd != c.dim / c.n_heads)
    cfg.bad("head_dim", "contradicts hidden_size / num_attention_heads = " + std::to_string(c.dim / c.n_heads));
  if (cfg.has("rope_scaling")) cfg.require("rope_scaling", nullptr, "RoPE scaling is not implemented");
  cfg.require("hidden_act", "silu", "the FFN is SwiGLU");
  cfg.require("mlp_bias", false, "no FFN biases in this family");
  if (f == Family::Mistral || f == Family::Mixtral) c.sliding_window = cfg.opt_int("sliding_window").value_or(0);
  if (f == Family::Qwen2 && cfg.opt_bool("use_sliding_window").value_or(false))
    cfg.bad("use_sliding_window", "= true is not supported for Qwen2 (per-layer windows)");
  if (f == Family::Mixtral) {
    c.ffn = FfnKind::MoE;
    c.n_experts = cfg.get_int("num_local_experts");
    c.n_experts_used = cfg.get_int("num_experts_per_tok");
  }
  return c;
}

// GPT-2's and BLOOM's default FFN width. A dim past INT32_MAX / 4 would overflow int32
// (undefined) before validate() sees it; saturated, validate() rejects it by name.
int32_t four_times(int32_t dim) { return int32_t(std::min<int64_t>(4 * int64_t(dim), INT32_MAX)); }

ModelConfig gpt2_config(const ConfigJson& cfg) {
  ModelConfig c;
  c.architecture = "gpt2";
  c.dim = cfg.get_int("n_embd");
  c.n_layers = cfg.get_int("n_layer");
  c.n_heads = cfg.get_int("n_head");
  c.n_kv_heads = c.n_heads;
  c.hidden_dim = cfg.opt_int("n_inner").value_or(four_times(c.dim));
  c.vocab_size = cfg.get_int("vocab_size");
  c.context_length = cfg.get_int("n_positions");
  c.rms_eps = cfg.opt_float("layer_norm_epsilon").value_or(1e-5f);
  c.norm = NormKind::LayerNorm;
  c.position = PositionKind::Learned;
  c.ffn = FfnKind::GeluMLP;
  cfg.require_string("activation_function", {"gelu_new", "gelu_pytorch_tanh", "gelu_fast"}, "tanh-approximated GELU only");
  cfg.require("scale_attn_weights", true, "attention scores are scaled by 1/sqrt(head_dim)");
  cfg.require("scale_attn_by_inverse_layer_idx", false, "not implemented");
  cfg.require("reorder_and_upcast_attn", false, "not implemented");
  return c;
}

ModelConfig bloom_config(const ConfigJson& cfg) {
  ModelConfig c;
  c.architecture = "bloom";
  c.dim = cfg.has("hidden_size") ? cfg.get_int("hidden_size") : cfg.get_int("n_embed");
  c.n_layers = cfg.get_int("n_layer");
  c.n_heads = cfg.has("n_head") ? cfg.get_int("n_head") : cfg.get_int("num_attention_heads");
  c.n_kv_heads = c.n_heads;
  c.hidden_dim = four_times(c.dim);
  c.vocab_size = cfg.get_int("vocab_size");
  // BLOOM has no maximum position (ALiBi extrapolates); seq_length is its training length.
  c.context_length = cfg.opt_int("seq_length").value_or(cfg.opt_int("max_position_embeddings").value_or(2048));
  c.rms_eps = cfg.opt_float("layer_norm_epsilon").value_or(1e-5f);
  c.norm = NormKind::LayerNorm;
  c.position = PositionKind::ALiBi;
  c.ffn = FfnKind::GeluMLP;
  c.embedding_norm = true;
  cfg.require("apply_residual_connection_post_layernorm", false, "not implemented");
  return c;
}

// Tensors by name, with the rearranged ones held in buffers the model owns.
class TensorSource {
 public:
  TensorSource(const SafetensorsSet& set, LoadedModel& model, std::string prefix_a, std::string prefix_b = "")
      : set_(set), model_(model), prefixes_{std::move(prefix_a), std::move(prefix_b)} {}

  // The tensor `name`, under the first prefix that has it (GPT-2/BLOOM checkpoints come with
  // and without "transformer."). Missing: an error naming it, or nullptr when optional.
  const Tensor* find(const std::string& name) const {
    for (const std::string& p : prefixes_)
      if (const Tensor* t = set_.find(p + name)) return t;
    return nullptr;
  }
  Tensor get(const std::string& name) const {
    if (const Tensor* t = find(name)) return *t;
    fail("model has no tensor '", prefixes_[0] + name, "'");
  }
  Tensor opt(const std::string& name) const {
    const Tensor* t = find(name);
    return t ? *t : Tensor{};
  }

  // A Conv1D weight stored [in, out] (ggml {out, in}), transposed into {in, out}.
  Tensor transposed(const std::string& name) {
    const Tensor t = get(name);
    if (t.shape.size() != 2) fail("tensor '", t.name, "' has shape ", shape_string(t.shape), "; a matrix was expected");
    const int64_t cols = t.shape[0], rows = t.shape[1];  // file: rows x cols, row-major
    const size_t es = t.type == DType::F32 ? 4 : 2;
    std::vector<uint8_t>& buf = model_.buffers.emplace_back(size_t(rows * cols) * es);
    const auto* src = static_cast<const uint8_t*>(t.data);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) std::memcpy(&buf[size_t(c * rows + r) * es], &src[size_t(r * cols + c) * es], es);
    return Tensor{t.name, t.type, {rows, cols}, buf.data()};
  }

  // Reorders the rows of BLOOM's fused query_key_value ({dim, 3*dim}, per head [q; k; v] each
  // head_dim rows) into [all q; all k; all v], as llama.cpp's converter does.
  Tensor bloom_qkv(const Tensor& t, int64_t n_heads, int64_t head_dim) {
    const bool vec = t.shape.size() == 1;
    const int64_t total = vec ? t.shape[0] : t.shape[1];
    if (total != 3 * n_heads * head_dim)
      fail("tensor '", t.name, "' has shape ", shape_string(t.shape), " but the model's hyper-parameters need ",
           3 * n_heads * head_dim, " rows");
    const size_t row = vec ? row_bytes(t.type, 1) : row_bytes(t.type, t.shape[0]);
    std::vector<uint8_t>& buf = model_.buffers.emplace_back(size_t(total) * row);
    const auto* src = static_cast<const uint8_t*>(t.data);
    for (int64_t h = 0; h < n_heads; ++h)
      for (int64_t part = 0; part < 3; ++part)
        for (int64_t i = 0; i < head_dim; ++i)
          std::memcpy(&buf[size_t((part * n_heads + h) * head_dim + i) * row], &src[size_t((h * 3 + part) * head_dim + i) * row], row);
    Tensor out = t;
    out.data = buf.data();
    return out;
  }

 private:
  const SafetensorsSet& set_;
  LoadedModel& model_;
  std::vector<std::string> prefixes_;
};

std::string layer(int i, const std::string& rest, const char* stem) { return std::string(stem) + std::to_string(i) + "." + rest; }

void llama_like_weights(TensorSource& src, const ModelConfig& c, const ConfigJson& cfg, Family f, ModelWeights& w) {
  w.token_embd = src.get("model.embed_tokens.weight");
  w.output_norm = src.get("model.norm.weight");
  const bool tied = cfg.opt_bool("tie_word_embeddings").value_or(false);
  if (const Tensor* head = src.find("lm_head.weight"); head && !tied) {
    w.output = *head;
  } else if (tied || !head) {
    if (!tied && !head) fail("model has no tensor 'lm_head.weight' and config.json does not tie it to the embedding");
    w.output = w.token_embd;
    w.tied_output = true;
  }
  const bool qkv_bias = f == Family::Qwen2 || cfg.opt_bool("attention_bias").value_or(false);
  w.layers.resize(c.n_layers);
  for (int i = 0; i < c.n_layers; ++i) {
    LayerWeights& l = w.layers[i];
    auto t = [&](const std::string& rest) { return src.get(layer(i, rest, "model.layers.")); };
    l.attn_norm = t("input_layernorm.weight");
    l.wq = t("self_attn.q_proj.weight");
    l.wk = t("self_attn.k_proj.weight");
    l.wv = t("self_attn.v_proj.weight");
    l.wo = t("self_attn.o_proj.weight");
    if (qkv_bias) {
      l.bq = t("self_attn.q_proj.bias");
      l.bk = t("self_attn.k_proj.bias");
      l.bv = t("self_attn.v_proj.bias");
    }
    if (f != Family::Qwen2 && cfg.opt_bool("attention_bias").value_or(false)) l.bo = t("self_attn.o_proj.bias");
    l.ffn_norm = t("post_attention_layernorm.weight");
    if (f == Family::Mixtral) {
      l.router = t("block_sparse_moe.gate.weight");
      for (int e = 0; e < c.n_experts; ++e) {
        const std::string ex = "block_sparse_moe.experts." + std::to_string(e) + ".";
        l.expert_gate.push_back(t(ex + "w1.weight"));
        l.expert_down.push_back(t(ex + "w2.weight"));
        l.expert_up.push_back(t(ex + "w3.weight"));
      }
    } else {
      l.w_gate = t("mlp.gate_proj.weight");
      l.w_up = t("mlp.up_proj.weight");
      l.w_down = t("mlp.down_proj.weight");
    }
  }
}

void gpt2_weights(TensorSource& src, const ModelConfig& c, ModelWeights& w) {
  w.token_embd = src.get("wte.weight");
  w.pos_embd = src.get("wpe.weight");
  w.output_norm = src.get("ln_f.weight");
  w.output_norm_b = src.get("ln_f.bias");
  w.output = w.token_embd;  // GPT-2's head is tied to the token embedding
  w.tied_output = true;
  w.layers.resize(c.n_layers);
  const int64_t dim = c.dim;
  for (int i = 0; i < c.n_layers; ++i) {
    LayerWeights& l = w.layers[i];
    auto name = [&](const std::string& rest) { return layer(i, rest, "h."); };
    l.attn_norm = src.get(name("ln_1.weight"));
    l.attn_norm_b = src.get(name("ln_1.bias"));
    const Tensor qkv = src.transposed(name("attn.c_attn.weight"));  // {dim, 3 dim}
    if (qkv.shape != std::vector<int64_t>{dim, 3 * dim})
      fail("tensor '", qkv.name, "' has shape ", shape_string(qkv.shape), " (transposed) but the model's hyper-parameters need ",
           shape_string({dim, 3 * dim}));
    const Tensor qkv_b = src.get(name("attn.c_attn.bias"));
    expect_tensor_shape(qkv_b, "fused attention QKV bias", {3 * dim});
    split_fused_qkv(qkv, qkv_b, dim, dim, l);
    l.wo = src.transposed(name("attn.c_proj.weight"));
    l.bo = src.get(name("attn.c_proj.bias"));
    l.ffn_norm = src.get(name("ln_2.weight"));
    l.ffn_norm_b = src.get(name("ln_2.bias"));
    l.w_up = src.transposed(name("mlp.c_fc.weight"));
    l.b_up = src.get(name("mlp.c_fc.bias"));
    l.w_down = src.transposed(name("mlp.c_proj.weight"));
    l.b_down = src.get(name("mlp.c_proj.bias"));
  }
}

void bloom_weights(TensorSource& src, const ModelConfig& c, ModelWeights& w) {
  w.token_embd = src.get("word_embeddings.weight");
  w.embd_norm = src.get("word_embeddings_layernorm.weight");
  w.embd_norm_b = src.get("word_embeddings_layernorm.bias");
  w.output_norm = src.get("ln_f.weight");
  w.output_norm_b = src.get("ln_f.bias");
  w.output = w.token_embd;
  w.tied_output = true;
  w.layers.resize(c.n_layers);
  const int64_t dim = c.dim;
  for (int i = 0; i < c.n_layers; ++i) {
    LayerWeights& l = w.layers[i];
    auto name = [&](const std::string& rest) { return layer(i, rest, "h."); };
    l.attn_norm = src.get(name("input_layernorm.weight"));
    l.attn_norm_b = src.get(name("input_layernorm.bias"));
    const Tensor qkv = src.bloom_qkv(src.get(name("self_attention.query_key_value.weight")), c.n_heads, c.head_dim());
    const Tensor qkv_b = src.bloom_qkv(src.get(name("self_attention.query_key_value.bias")), c.n_heads, c.head_dim());
    split_fused_qkv(qkv, qkv_b, dim, dim, l);
    l.wo = src.get(name("self_attention.dense.weight"));
    l.bo = src.get(name("self_attention.dense.bias"));
    l.ffn_norm = src.get(name("post_attention_layernorm.weight"));
    l.ffn_norm_b = src.get(name("post_attention_layernorm.bias"));
    l.w_up = src.get(name("mlp.dense_h_to_4h.weight"));
    l.b_up = src.get(name("mlp.dense_h_to_4h.bias"));
    l.w_down = src.get(name("mlp.dense_4h_to_h.weight"));
    l.b_down = src.get(name("mlp.dense_4h_to_h.bias"));
  }
}

}  // namespace

std::unique_ptr<LoadedModel> load_hf_model(const std::string& dir, const std::string& tokenizer_path) {
  auto m = std::make_unique<LoadedModel>();
  m->format = "safetensors";
  const fs::path config_path = fs::path(dir) / "config.json";
  std::error_code ec;
  if (!fs::exists(config_path, ec)) fail(dir, ": no config.json (not a Hugging Face model folder?)");
  const ConfigJson cfg(config_path.string(), "a Hugging Face model folder");
  const Family f = family_of(cfg);
  switch (f) {
    case Family::GPT2: m->config = gpt2_config(cfg); break;
    case Family::Bloom: m->config = bloom_config(cfg); break;
    default: m->config = llama_like_config(cfg, f); break;
  }
  cfg.checked([&] { validate(m->config); });
  const SafetensorsSet set(dir);
  try {
    switch (f) {
      case Family::GPT2: {
        TensorSource src(set, *m, "transformer.", "");
        gpt2_weights(src, m->config, m->weights);
        break;
      }
      case Family::Bloom: {
        TensorSource src(set, *m, "transformer.", "");
        bloom_weights(src, m->config, m->weights);
        break;
      }
      default: {
        TensorSource src(set, *m, "");
        llama_like_weights(src, m->config, cfg, f, m->weights);
        break;
      }
    }
    check_weights(m->config, m->weights);
  } catch (const Error& e) {
    fail(dir, ": ", e.what());
  }
  m->tensors = set.tensors();
  m->files = set.files();

  if (!tokenizer_path.empty()) {
    m->vocab = read_llama2c_tokenizer(tokenizer_path, m->config.vocab_size);
  } else {
#if LUMEN_HAS_HF_TOKENIZER
    if (!fs::exists(fs::path(dir) / "tokenizer.json"))
      fail(dir, ": has no tokenizer.json; give a tokenizer with -z TOKENIZER.bin");
    m->vocab = read_hf_tokenizer(dir);
#else
    fail(dir, ": reading tokenizer.json is not supported yet; give a tokenizer with -z TOKENIZER.bin");
#endif
  }
  return m;
}

}  // namespace lumen
