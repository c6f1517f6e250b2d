#include "formats/gguf_model.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <optional>

#include "formats/gguf_tokenizer.h"
#include "formats/gguf_writer.h"
#include "tensor/tensor_checks.h"
#include "util/error.h"

namespace lumen {
namespace {

// Metadata keys as llama.cpp writes them for the `llama` architecture.
constexpr const char* kArchitecture = "general.architecture";
constexpr const char* kContextLength = "llama.context_length";
constexpr const char* kEmbeddingLength = "llama.embedding_length";
constexpr const char* kFeedForwardLength = "llama.feed_forward_length";
constexpr const char* kBlockCount = "llama.block_count";
constexpr const char* kHeadCount = "llama.attention.head_count";
constexpr const char* kHeadCountKv = "llama.attention.head_count_kv";
constexpr const char* kRmsEpsilon = "llama.attention.layer_norm_rms_epsilon";
constexpr const char* kRopeFreqBase = "llama.rope.freq_base";
constexpr const char* kRopeDimensions = "llama.rope.dimension_count";
constexpr const char* kVocabSize = "llama.vocab_size";

constexpr const char* kLlama = "llama";
constexpr float kDefaultRopeFreqBase = 10000.0f;

constexpr const char* kTokenEmbd = "token_embd.weight";
constexpr const char* kOutputNorm = "output_norm.weight";
constexpr const char* kOutput = "output.weight";

// Per-layer tensors: `blk.N.<name>.weight` in the file, the member of LayerWeights in lumen.
struct LayerTensor {
  const char* name;
  Tensor LayerWeights::*member;
  bool is_norm;
};
constexpr LayerTensor kLayerTensors[] = {
    {"attn_norm", &LayerWeights::attn_norm, true}, {"attn_q", &LayerWeights::wq, false},
    {"attn_k", &LayerWeights::wk, false},          {"attn_v", &LayerWeights::wv, false},
    {"attn_output", &LayerWeights::wo, false},     {"ffn_norm", &LayerWeights::ffn_norm, true},
    {"ffn_gate", &LayerWeights::w_gate, false},    {"ffn_up", &LayerWeights::w_up, false},
    {"ffn_down", &LayerWeights::w_down, false},
};

std::string layer_tensor_name(int layer, const char* name) {
  return "blk." + std::to_string(layer) + "." + name + ".weight";
}

// --- reading ---

// --- the other families (qwen2, gpt2, bloom; MoE and sliding window on llama) ---
// Keys are `<arch>.<suffix>` as llama.cpp's converter writes them.

bool is_family_arch(const std::string& a) { return a == "qwen2" || a == "gpt2" || a == "bloom"; }

std::string arch_key(const std::string& arch, const char* suffix) { return arch + "." + suffix; }

std::string blk(int layer, const char* name, const char* kind) {
  return "blk." + std::to_string(layer) + "." + name + "." + kind;
}

ModelConfig read_family_config(const GgufFile& g, const std::string& arch) {
  ModelConfig c;
  c.architecture = arch;
  auto k = [&](const char* suffix) { return arch_key(arch, suffix); };
  c.context_length = g.get_i32(k("context_length"));
  c.dim = g.get_i32(k("embedding_length"));
  c.hidden_dim = g.get_i32(k("feed_forward_length"));
  c.n_layers = g.get_i32(k("block_count"));
  c.n_heads = g.get_i32(k("attention.head_count"));
  c.n_kv_heads = g.opt_i32(k("attention.head_count_kv")).value_or(c.n_heads);
  if (arch == "qwen2") {
    c.rms_eps = g.get_f32(k("attention.layer_norm_rms_epsilon"));
    c.rope_freq_base = g.opt_f32(k("rope.freq_base")).value_or(kDefaultRopeFreqBase);
    c.rope_dim = g.opt_i32(k("rope.dimension_count")).value_or(0);
    c.rope_style = RopeStyle::NeoX;  // llama.cpp runs qwen2 with NeoX RoPE on unpermuted Q/K
  } else {
    c.rms_eps = g.get_f32(k("attention.layer_norm_epsilon"));
    c.norm = NormKind::LayerNorm;
    c.ffn = FfnKind::GeluMLP;
    c.position = arch == "gpt2" ? PositionKind::Learned : PositionKind::ALiBi;
    c.embedding_norm = arch == "bloom";
  }
  return c;
}

// Optional llama keys: Mixtral's experts and Mistral's sliding window.
void read_llama_options(const GgufFile& g, ModelConfig& c) {
  if (const auto experts = g.opt_i32("llama.expert_count"); experts && *experts > 0) {
    c.ffn = FfnKind::MoE;
    c.n_experts = *experts;
    c.n_experts_used = g.get_i32("llama.expert_used_count");
  }
  c.sliding_window = g.opt_i32("llama.attention.sliding_window").value_or(0);
}

// The i-th of `n` equal slices of a stacked tensor ({.., .., n}): a view.
Tensor slice_last(const Tensor& t, int64_t i, int64_t n) {
  if (t.shape.size() != 3 || t.shape[2] != n)
    fail("tensor '", t.name, "' has shape ", shape_string(t.shape), "; ", n, " stacked experts were expected");
  Tensor out = t;
  out.shape = {t.shape[0], t.shape[1]};
  out.data = t.row(i * t.shape[1]);
  return out;
}

ModelConfig read_config(const GgufFile& g) {
  ModelConfig c;
  c.architecture = g.get_string(kArchitecture);
  if (is_family_arch(c.architecture)) return read_family_config(g, c.architecture);
  if (c.architecture != kLlama) fail("unsupported architecture '", c.architecture, "'");
  c.context_length = g.get_i32(kContextLength);
  c.dim = g.get_i32(kEmbeddingLength);
  c.hidden_dim = g.get_i32(kFeedForwardLength);
  c.n_layers = g.get_i32(kBlockCount);
  c.n_heads = g.get_i32(kHeadCount);
  c.n_kv_heads = g.opt_i32(kHeadCountKv).value_or(c.n_heads);
  c.rms_eps = g.get_f32(kRmsEpsilon);
  c.rope_freq_base = g.opt_f32(kRopeFreqBase).value_or(kDefaultRopeFreqBase);
  c.rope_dim = g.opt_i32(kRopeDimensions).value_or(0);
  // llama.cpp's converter permutes Hugging Face's Q/K rows so that `llama` rotates adjacent pairs.
  c.rope_style = RopeStyle::Adjacent;
  read_llama_options(g, c);
  return c;
}

const Tensor& require_tensor(const GgufFile& g, const std::string& name) {
  const Tensor* t = g.find_tensor(name);
  if (!t) fail("GGUF file has no tensor '", name, "'");
  return *t;
}

ModelWeights read_family_weights(const GgufFile& g, const ModelConfig& c) {
  ModelWeights w;
  auto opt = [&](const std::string& name) {
    const Tensor* t = g.find_tensor(name);
    return t ? *t : Tensor{};
  };
  w.token_embd = require_tensor(g, kTokenEmbd);
  w.output_norm = require_tensor(g, kOutputNorm);
  w.output_norm_b = opt("output_norm.bias");
  if (const Tensor* out = g.find_tensor(kOutput)) {
    w.output = *out;
  } else {
    w.output = w.token_embd;
    w.tied_output = true;
  }
  if (c.position == PositionKind::Learned) w.pos_embd = require_tensor(g, "position_embd.weight");
  if (c.embedding_norm) {
    w.embd_norm = require_tensor(g, "token_embd_norm.weight");
    w.embd_norm_b = opt("token_embd_norm.bias");
  }
  const int64_t dim = c.dim, kv = c.kv_dim();
  w.layers.resize(c.n_layers);
  for (int i = 0; i < c.n_layers; ++i) {
    LayerWeights& l = w.layers[i];
    auto req = [&](const char* name, const char* kind = "weight") { return require_tensor(g, blk(i, name, kind)); };
    auto bias = [&](const char* name) { return opt(blk(i, name, "bias")); };
    l.attn_norm = req("attn_norm");
    l.attn_norm_b = bias("attn_norm");
    l.ffn_norm = req("ffn_norm");
    l.ffn_norm_b = bias("ffn_norm");
    l.wo = req("attn_output");
    l.bo = bias("attn_output");
    if (g.find_tensor(blk(i, "attn_qkv", "weight"))) {  // fused [q; k; v] rows (gpt2, bloom)
      const Tensor qkv = req("attn_qkv"), b = bias("attn_qkv");
      expect_tensor_shape(qkv, "fused attention QKV", {dim, dim + 2 * kv});
      if (b.present()) expect_tensor_shape(b, "fused attention QKV bias", {dim + 2 * kv});
      split_fused_qkv(qkv, b, dim, kv, l);
    } else {
      l.wq = req("attn_q");
      l.wk = req("attn_k");
      l.wv = req("attn_v");
      l.bq = bias("attn_q");
      l.bk = bias("attn_k");
      l.bv = bias("attn_v");
    }
    if (c.ffn == FfnKind::MoE) continue;  // read_experts
    if (c.ffn == FfnKind::SwiGLU) l.w_gate = req("ffn_gate");
    l.w_up = req("ffn_up");
    l.b_up = bias("ffn_up");
    l.w_down = req("ffn_down");
    l.b_down = bias("ffn_down");
  }
  return w;
}

// Mixtral as llama.cpp stores it: a router and the experts' matrices stacked in 3-D tensors.
void read_experts(const GgufFile& g, const ModelConfig& c, ModelWeights& w) {
  for (int i = 0; i < c.n_layers; ++i) {
    LayerWeights& l = w.layers[i];
    l.router = require_tensor(g, blk(i, "ffn_gate_inp", "weight"));
    const Tensor gate = require_tensor(g, blk(i, "ffn_gate_exps", "weight"));
    const Tensor up = require_tensor(g, blk(i, "ffn_up_exps", "weight"));
    const Tensor down = require_tensor(g, blk(i, "ffn_down_exps", "weight"));
    for (int e = 0; e < c.n_experts; ++e) {
      l.expert_gate.push_back(slice_last(gate, e, c.n_experts));
      l.expert_up.push_back(slice_last(up, e, c.n_experts));
      l.expert_down.push_back(slice_last(down, e, c.n_experts));
    }
  }
}

ModelWeights read_weights(const GgufFile& g, int32_t n_layers) {
  ModelWeights w;
  w.token_embd = require_tensor(g, kTokenEmbd);
  w.output_norm = require_tensor(g, kOutputNorm);
  if (const Tensor* out = g.find_tensor(kOutput)) {
    w.output = *out;
  } else {
    w.output = w.token_embd;
    w.tied_output = true;
  }
  w.layers.resize(n_layers);
  for (int i = 0; i < n_layers; ++i)
    for (const auto& lt : kLayerTensors) w.layers[i].*lt.member = require_tensor(g, layer_tensor_name(i, lt.name));
  return w;
}

ModelWeights read_any_weights(const GgufFile& g, const ModelConfig& c) {
  if (is_family_arch(c.architecture)) return read_family_weights(g, c);
  if (c.ffn != FfnKind::MoE) return read_weights(g, c.n_layers);
  ModelWeights w = read_family_weights(g, c);  // attention and norms by the same names
  read_experts(g, c, w);
  return w;
}

// --- writing ---

// llama.cpp's `general.file_type` (llama_ftype) for the type most weights are stored in.
std::optional<uint32_t> file_type(DType t) {
  switch (t) {
    case DType::F32: return 0;
    case DType::F16: return 1;
    case DType::Q4_0: return 2;
    case DType::Q4_1: return 3;
    case DType::Q8_0: return 7;
    case DType::Q5_0: return 8;
    case DType::Q5_1: return 9;
    case DType::Q2_K: return 10;
    case DType::Q3_K: return 12;
    case DType::Q4_K: return 15;
    case DType::Q5_K: return 17;
    case DType::Q6_K: return 18;
    case DType::BF16: return 32;
    default: return std::nullopt;
  }
}

// llama.cpp keeps norm weights in F32 whatever the matrices are stored in.
std::vector<uint8_t> norm_as_f32(const Tensor& t) {
  float (*to_f32)(uint16_t) = t.type == DType::F16 ? f16_to_f32 : t.type == DType::BF16 ? bf16_to_f32 : nullptr;
  if (!to_f32) fail("norm tensor '", t.name, "' is stored as ", dtype_name(t.type), "; only F32, F16 and BF16 can be written");
  const auto* src = static_cast<const uint16_t*>(t.data);
  std::vector<uint8_t> bytes(t.elements() * sizeof(float));
  for (int64_t i = 0; i < t.elements(); ++i) {
    const float x = to_f32(src[i]);
    std::memcpy(bytes.data() + i * sizeof(float), &x, sizeof(float));
  }
  return bytes;
}

// Reorders the rows of a Q or K matrix from the NeoX layout (each head's first half pairs
// with its second half) into the adjacent-pair layout: row h*hd + 2i + j <- h*hd + j*hd/2 + i.
std::vector<uint8_t> neox_to_adjacent(const Tensor& t, int32_t n_heads) {
  const int64_t rows = t.rows(), hd = rows / n_heads;
  const size_t row = row_bytes(t.type, t.row_length());
  std::vector<uint8_t> out(t.bytes());
  for (int64_t h = 0; h < n_heads; ++h)
    for (int64_t i = 0; i < hd / 2; ++i)
      for (int64_t j = 0; j < 2; ++j)
        std::memcpy(out.data() + size_t(h * hd + 2 * i + j) * row, t.row(h * hd + j * hd / 2 + i), row);
  return out;
}

std::span<const uint8_t> bytes_of(const Tensor& t) { return {static_cast<const uint8_t*>(t.data), t.bytes()}; }

void add_config(GgufWriter& w, const ModelConfig& c) {
  w.add_u32(kContextLength, uint32_t(c.context_length));
  w.add_u32(kEmbeddingLength, uint32_t(c.dim));
  w.add_u32(kBlockCount, uint32_t(c.n_layers));
  w.add_u32(kFeedForwardLength, uint32_t(c.hidden_dim));
  w.add_u32(kRopeDimensions, uint32_t(c.rotary_dims()));
  w.add_u32(kHeadCount, uint32_t(c.n_heads));
  w.add_u32(kHeadCountKv, uint32_t(c.n_kv_heads));
  w.add_f32(kRmsEpsilon, c.rms_eps);
  w.add_f32(kRopeFreqBase, c.rope_freq_base);
  w.add_u32(kVocabSize, uint32_t(c.vocab_size));
}

void add_tensors(GgufWriter& w, const LoadedModel& m) {
  const ModelConfig& c = m.config;
  const ModelWeights& wt = m.weights;
  auto add_matrix = [&](const std::string& name, const Tensor& t) { w.add_tensor(name, t.type, t.shape, bytes_of(t)); };
  auto add_norm = [&](const std::string& name, const Tensor& t) {
    if (t.type == DType::F32) return add_matrix(name, t);
    w.add_tensor(name, DType::F32, t.shape, norm_as_f32(t));
  };
  const bool neox = c.rope_style == RopeStyle::NeoX;
  if (neox && c.rotary_dims() != c.head_dim())
    fail("cannot write partial NeoX RoPE (", c.rotary_dims(), " of ", c.head_dim(), " dimensions) as a llama GGUF");

  add_matrix(kTokenEmbd, wt.token_embd);
  add_norm(kOutputNorm, wt.output_norm);
  if (!wt.tied_output) add_matrix(kOutput, wt.output);
  for (int i = 0; i < int(wt.layers.size()); ++i) {
    const LayerWeights& l = wt.layers[i];
    for (const auto& lt : kLayerTensors) {
      const std::string name = layer_tensor_name(i, lt.name);
      const Tensor& t = l.*lt.member;
      if (lt.is_norm) {
        add_norm(name, t);
      } else if (neox && (lt.member == &LayerWeights::wq || lt.member == &LayerWeights::wk)) {
        const int32_t heads = lt.member == &LayerWeights::wq ? c.n_heads : c.n_kv_heads;
        w.add_tensor(name, t.type, t.shape, neox_to_adjacent(t, heads));
      } else {
        add_matrix(name, t);
      }
    }
  }
}

// Rows of several matrices (or several vectors, widened to F32 as llama.cpp keeps them) one
// after another: fused QKV, stacked experts.
std::vector<uint8_t> concat_rows(const std::vector<Tensor>& parts, bool as_f32) {
  std::vector<uint8_t> out;
  for (const Tensor& t : parts) {
    if (as_f32 && t.type != DType::F32) {
      const std::vector<uint8_t> f = norm_as_f32(t);
      out.insert(out.end(), f.begin(), f.end());
    } else {
      const auto* p = static_cast<const uint8_t*>(t.data);
      out.insert(out.end(), p, p + t.bytes());
    }
  }
  return out;
}

void add_family_config(GgufWriter& w, const ModelConfig& c) {
  const std::string& a = c.architecture;
  auto k = [&](const char* suffix) { return arch_key(a, suffix); };
  if (a == kLlama) {
    add_config(w, c);
    if (c.ffn == FfnKind::MoE) {
      w.add_u32("llama.expert_count", uint32_t(c.n_experts));
      w.add_u32("llama.expert_used_count", uint32_t(c.n_experts_used));
    }
    if (c.sliding_window > 0) w.add_u32("llama.attention.sliding_window", uint32_t(c.sliding_window));
    return;
  }
  w.add_u32(k("context_length"), uint32_t(c.context_length));
  w.add_u32(k("embedding_length"), uint32_t(c.dim));
  w.add_u32(k("block_count"), uint32_t(c.n_layers));
  w.add_u32(k("feed_forward_length"), uint32_t(c.hidden_dim));
  w.add_u32(k("attention.head_count"), uint32_t(c.n_heads));
  w.add_u32(k("attention.head_count_kv"), uint32_t(c.n_kv_heads));
  if (a == "qwen2") {
    w.add_f32(k("rope.freq_base"), c.rope_freq_base);
    w.add_f32(k("attention.layer_norm_rms_epsilon"), c.rms_eps);
  } else {
    w.add_f32(k("attention.layer_norm_epsilon"), c.rms_eps);
  }
}

// Tensors of every family by llama.cpp's names. gpt2 and bloom keep Q, K and V fused in
// `attn_qkv` ([q; k; v] rows) and store the tied classifier as `output.weight` too, as
// llama.cpp's converter does; llama's NeoX-layout Q/K rows are permuted to adjacent pairs.
void add_family_tensors(GgufWriter& w, const LoadedModel& m) {
  const ModelConfig& c = m.config;
  const ModelWeights& wt = m.weights;
  const std::string& a = c.architecture;
  auto add_matrix = [&](const std::string& name, const Tensor& t) { w.add_tensor(name, t.type, t.shape, bytes_of(t)); };
  auto add_vector = [&](const std::string& name, const Tensor& t) {
    if (!t.present()) return;
    if (t.type == DType::F32) return add_matrix(name, t);
    w.add_tensor(name, DType::F32, t.shape, norm_as_f32(t));
  };
  const bool fused = a == "gpt2" || a == "bloom";
  const bool permute = a == kLlama && c.rope_style == RopeStyle::NeoX;
  if (permute && c.rotary_dims() != c.head_dim())
    fail("cannot write partial NeoX RoPE (", c.rotary_dims(), " of ", c.head_dim(), " dimensions) as a llama GGUF");

  add_matrix(kTokenEmbd, wt.token_embd);
  if (wt.pos_embd.present()) add_matrix("position_embd.weight", wt.pos_embd);
  add_vector("token_embd_norm.weight", wt.embd_norm);
  add_vector("token_embd_norm.bias", wt.embd_norm_b);
  add_vector(kOutputNorm, wt.output_norm);
  add_vector("output_norm.bias", wt.output_norm_b);
  if (!wt.tied_output || fused) add_matrix(kOutput, wt.output);
  for (int i = 0; i < int(wt.layers.size()); ++i) {
    const LayerWeights& l = wt.layers[i];
    auto name = [&](const char* n, const char* kind = "weight") { return blk(i, n, kind); };
    add_vector(name("attn_norm"), l.attn_norm);
    add_vector(name("attn_norm", "bias"), l.attn_norm_b);
    if (fused) {
      w.add_tensor(name("attn_qkv"), l.wq.type, {c.dim, c.dim + 2 * c.kv_dim()}, concat_rows({l.wq, l.wk, l.wv}, false));
      if (l.bq.present())
        w.add_tensor(name("attn_qkv", "bias"), DType::F32, {c.dim + 2 * c.kv_dim()}, concat_rows({l.bq, l.bk, l.bv}, true));
    } else if (permute) {
      w.add_tensor(name("attn_q"), l.wq.type, l.wq.shape, neox_to_adjacent(l.wq, c.n_heads));
      w.add_tensor(name("attn_k"), l.wk.type, l.wk.shape, neox_to_adjacent(l.wk, c.n_kv_heads));
      add_matrix(name("attn_v"), l.wv);
    } else {
      add_matrix(name("attn_q"), l.wq);
      add_matrix(name("attn_k"), l.wk);
      add_matrix(name("attn_v"), l.wv);
    }
    if (!fused) {
      if (permute && (l.bq.present() || l.bk.present()))
        fail("cannot write Q/K biases with permuted rows as a llama GGUF");
      add_vector(name("attn_q", "bias"), l.bq);
      add_vector(name("attn_k", "bias"), l.bk);
      add_vector(name("attn_v", "bias"), l.bv);
    }
    add_matrix(name("attn_output"), l.wo);
    add_vector(name("attn_output", "bias"), l.bo);
    add_vector(name("ffn_norm"), l.ffn_norm);
    add_vector(name("ffn_norm", "bias"), l.ffn_norm_b);
    if (c.ffn == FfnKind::MoE) {
      const int64_t E = c.n_experts, dim = c.dim, hid = c.hidden_dim;
      add_matrix(name("ffn_gate_inp"), l.router);
      w.add_tensor(name("ffn_gate_exps"), l.expert_gate[0].type, {dim, hid, E}, concat_rows(l.expert_gate, false));
      w.add_tensor(name("ffn_up_exps"), l.expert_up[0].type, {dim, hid, E}, concat_rows(l.expert_up, false));
      w.add_tensor(name("ffn_down_exps"), l.expert_down[0].type, {hid, dim, E}, concat_rows(l.expert_down, false));
      continue;
    }
    if (c.ffn == FfnKind::SwiGLU) add_matrix(name("ffn_gate"), l.w_gate);
    add_matrix(name("ffn_up"), l.w_up);
    add_vector(name("ffn_up", "bias"), l.b_up);
    add_matrix(name("ffn_down"), l.w_down);
    add_vector(name("ffn_down", "bias"), l.b_down);
  }
}

// A plain llama model (RMSNorm, RoPE, SwiGLU, no biases, no window): the original writer.
bool is_plain_llama(const ModelConfig& c, const ModelWeights& w) {
  if (c.architecture != kLlama || c.ffn != FfnKind::SwiGLU || c.sliding_window > 0) return false;
  for (const LayerWeights& l : w.layers)
    if (l.bq.present() || l.bk.present() || l.bv.present() || l.bo.present()) return false;
  return true;
}

}  // namespace

std::unique_ptr<LoadedModel> load_gguf_model(std::shared_ptr<const MappedFile> file) {
  const GgufFile g(file);
  auto m = std::make_unique<LoadedModel>();
  m->format = "gguf";
  try {
    m->config = read_config(g);
    m->vocab = read_gguf_tokenizer(g);
    m->config.vocab_size = m->vocab.size();
    validate(m->config);
    m->weights = read_any_weights(g, m->config);
    check_weights(m->config, m->weights);
  } catch (const Error& e) {
    fail(file->path(), ": ", e.what());
  }
  m->tensors = g.tensors();
  m->files.push_back(std::move(file));
  return m;
}

void write_gguf_model(const LoadedModel& m, const std::string& path) {
  const std::string& arch = m.config.architecture;
  if (arch != kLlama && !is_family_arch(arch)) fail("cannot write architecture '", arch, "' as GGUF");
  const bool plain = is_plain_llama(m.config, m.weights);
  GgufWriter w;
  w.add_string(kArchitecture, arch);
  w.add_string("general.name", m.files.empty() ? std::string("lumen") : std::filesystem::path(m.files[0]->path()).stem().string());
  const DType main_type = m.weights.layers.empty() ? m.weights.token_embd.type : m.weights.layers[0].wq.type;
  if (const auto ft = file_type(main_type)) w.add_u32("general.file_type", *ft);
  if (plain) {
    add_config(w, m.config);
  } else {
    add_family_config(w, m.config);
  }
  write_gguf_tokenizer(w, m.vocab);
  if (plain) {
    add_tensors(w, m);
  } else {
    add_family_tensors(w, m);
  }
  w.write(path);
}

}  // namespace lumen
