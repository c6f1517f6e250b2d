#include "formats/gguf_model.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <optional>

#include "formats/gguf_writer.h"
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
constexpr const char* kTokenizerModel = "tokenizer.ggml.model";
constexpr const char* kTokens = "tokenizer.ggml.tokens";
constexpr const char* kScores = "tokenizer.ggml.scores";
constexpr const char* kTokenTypes = "tokenizer.ggml.token_type";
constexpr const char* kBosId = "tokenizer.ggml.bos_token_id";
constexpr const char* kEosId = "tokenizer.ggml.eos_token_id";
constexpr const char* kUnkId = "tokenizer.ggml.unknown_token_id";
constexpr const char* kAddBos = "tokenizer.ggml.add_bos_token";
constexpr const char* kAddEos = "tokenizer.ggml.add_eos_token";

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

ModelConfig read_config(const GgufFile& g) {
  ModelConfig c;
  c.architecture = g.get_string(kArchitecture);
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
  return c;
}

const Tensor& require_tensor(const GgufFile& g, const std::string& name) {
  const Tensor* t = g.find_tensor(name);
  if (!t) fail("GGUF file has no tensor '", name, "'");
  return *t;
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

// llama.cpp writes u32 0xFFFFFFFF (its LLAMA_TOKEN_NULL, -1) for "no such token".
constexpr uint32_t kNoToken = 0xFFFFFFFFu;

int32_t token_id(const GgufFile& g, const char* key, int32_t fallback, size_t n_tokens) {
  const std::optional<uint32_t> id = g.opt_u32(key);
  if (!id) return fallback;
  if (*id == kNoToken) return -1;
  if (*id >= n_tokens) fail(key, " = ", *id, " is outside the vocabulary of ", n_tokens, " tokens");
  return int32_t(*id);
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

void add_vocab(GgufWriter& w, const Vocab& v) {
  if (v.model != kLlama) fail("cannot write tokenizer model '", v.model, "' (only 'llama')");
  const size_t n = v.pieces.size();
  if (v.scores.size() != n || v.types.size() != n)
    fail("vocabulary has ", n, " pieces but ", v.scores.size(), " scores and ", v.types.size(), " token types");
  std::vector<int32_t> types(n);
  std::transform(v.types.begin(), v.types.end(), types.begin(), [](TokenType t) { return int32_t(t); });
  w.add_string(kTokenizerModel, v.model);
  w.add_string_array(kTokens, v.pieces);
  w.add_f32_array(kScores, v.scores);
  w.add_i32_array(kTokenTypes, types);
  w.add_u32(kBosId, v.bos_id < 0 ? kNoToken : uint32_t(v.bos_id));
  w.add_u32(kEosId, v.eos_id < 0 ? kNoToken : uint32_t(v.eos_id));
  w.add_u32(kUnkId, v.unk_id < 0 ? kNoToken : uint32_t(v.unk_id));
  w.add_bool(kAddBos, v.add_bos);
  w.add_bool(kAddEos, false);
}

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

}  // namespace

Vocab read_gguf_vocab(const GgufFile& g) {
  Vocab v;
  v.model = g.opt_string(kTokenizerModel).value_or(v.model);
  v.pieces = g.get_string_array(kTokens);
  const size_t n = v.pieces.size();
  if (n == 0) fail(kTokens, " is empty");
  v.scores = g.opt_f32_array(kScores).value_or(std::vector<float>(n, 0.0f));
  const std::vector<int32_t> types = g.opt_i32_array(kTokenTypes).value_or(std::vector<int32_t>(n, int32_t(TokenType::Normal)));
  if (v.scores.size() != n) fail(kScores, " has ", v.scores.size(), " entries but ", kTokens, " has ", n);
  if (types.size() != n) fail(kTokenTypes, " has ", types.size(), " entries but ", kTokens, " has ", n);
  for (int32_t t : types) {
    if (t < int32_t(TokenType::Undefined) || t > int32_t(TokenType::Byte)) fail(kTokenTypes, " holds unknown type ", t);
    v.types.push_back(TokenType(t));
  }
  v.bos_id = token_id(g, kBosId, v.bos_id, n);
  v.eos_id = token_id(g, kEosId, v.eos_id, n);
  v.unk_id = token_id(g, kUnkId, v.unk_id, n);
  v.add_bos = g.opt_bool(kAddBos).value_or(v.add_bos);
  return v;
}

std::unique_ptr<LoadedModel> load_gguf_model(std::shared_ptr<const MappedFile> file) {
  const GgufFile g(file);
  auto m = std::make_unique<LoadedModel>();
  m->format = "gguf";
  try {
    m->config = read_config(g);
    m->vocab = read_gguf_vocab(g);
    // Converting or running needs the tokenizer, and only SentencePiece-style vocabularies
    // are understood so far; refusing here beats producing wrong text or a wrong file.
    if (m->vocab.model != kLlama) fail("tokenizer model '", m->vocab.model, "' is not supported (only 'llama')");
    m->config.vocab_size = m->vocab.size();
    validate(m->config);
    m->weights = read_weights(g, m->config.n_layers);
    check_weights(m->config, m->weights);
  } catch (const Error& e) {
    fail(file->path(), ": ", e.what());
  }
  m->tensors = g.tensors();
  m->files.push_back(std::move(file));
  return m;
}

void write_gguf_model(const LoadedModel& m, const std::string& path) {
  if (m.config.architecture != kLlama) fail("cannot write architecture '", m.config.architecture, "' as GGUF");
  GgufWriter w;
  w.add_string(kArchitecture, kLlama);
  w.add_string("general.name", m.files.empty() ? std::string("lumen") : std::filesystem::path(m.files[0]->path()).stem().string());
  const DType main_type = m.weights.layers.empty() ? m.weights.token_embd.type : m.weights.layers[0].wq.type;
  if (const auto ft = file_type(main_type)) w.add_u32("general.file_type", *ft);
  add_config(w, m.config);
  add_vocab(w, m.vocab);
  add_tensors(w, m);
  w.write(path);
}

}  // namespace lumen
