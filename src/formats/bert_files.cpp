#include "formats/bert_files.h"

#include <cstring>
#include <filesystem>
#include <functional>

#include "formats/config_json.h"
#include "formats/gguf.h"
#include "formats/gguf_tokenizer.h"
#include "formats/gguf_writer.h"
#include "formats/hf_tokenizer.h"
#include "formats/safetensors.h"
#include "util/error.h"

namespace lumen {
namespace {

namespace fs = std::filesystem;

// Every tensor of a BERT model under its two names: transformers' (after `embeddings.` or
// `encoder.layer.N.`) and llama.cpp's (after `blk.N.`); each has a `.weight` and, but for the
// tables, a `.bias`.
struct TensorName {
  const char* hf;
  const char* gguf;
};
enum EmbeddingPart { kWords, kPositions, kTypes, kEmbeddingNorm };
constexpr TensorName kEmbeddingNames[] = {{"embeddings.word_embeddings", "token_embd"},
                                          {"embeddings.position_embeddings", "position_embd"},
                                          {"embeddings.token_type_embeddings", "token_types"},
                                          {"embeddings.LayerNorm", "token_embd_norm"}};
enum LayerPart { kQ, kK, kV, kO, kAttnNorm, kUp, kDown, kOutNorm };
constexpr TensorName kLayerNames[] = {{"attention.self.query", "attn_q"},
                                      {"attention.self.key", "attn_k"},
                                      {"attention.self.value", "attn_v"},
                                      {"attention.output.dense", "attn_output"},
                                      {"attention.output.LayerNorm", "attn_output_norm"},
                                      {"intermediate.dense", "ffn_up"},
                                      {"output.dense", "ffn_down"},
                                      {"output.LayerNorm", "layer_output_norm"}};

// The name of part `part` of layer `layer` (-1: of the embeddings), with its suffix.
using Namer = std::string (*)(int layer, int part, const char* suffix);

std::string hf_name(int layer, int part, const char* suffix) {
  if (layer < 0) return std::string(kEmbeddingNames[part].hf) + "." + suffix;
  return "encoder.layer." + std::to_string(layer) + "." + kLayerNames[part].hf + "." + suffix;
}

std::string gguf_name(int layer, int part, const char* suffix) {
  if (layer < 0) return std::string(kEmbeddingNames[part].gguf) + "." + suffix;
  return "blk." + std::to_string(layer) + "." + kLayerNames[part].gguf + "." + suffix;
}

using Finder = std::function<Tensor(const std::string&)>;  // fails naming a missing tensor

BertWeights build_weights(const BertConfig& c, const Finder& find, Namer name) {
  const int64_t dim = c.dim, hid = c.hidden_dim;
  auto t = [&](int layer, int part, const char* suffix) { return find(name(layer, part, suffix)); };
  auto linear = [&](int i, int part, int64_t in, int64_t out) {
    return make_linear(t(i, part, "weight"), t(i, part, "bias"), in, out);
  };
  auto norm = [&](int i, int part) { return make_layernorm(t(i, part, "weight"), t(i, part, "bias"), dim, c.eps); };
  BertWeights w;
  w.token_embd = t(-1, kWords, "weight");
  w.pos_embd = t(-1, kPositions, "weight");
  w.type_embd = t(-1, kTypes, "weight");
  expect_tensor_shape(w.token_embd, "word embedding", {dim, c.vocab_size});
  expect_tensor_shape(w.pos_embd, "position embedding", {dim, c.max_positions});
  expect_tensor_shape(w.type_embd, "token type embedding", {dim, c.n_token_types});
  w.embd_norm = norm(-1, kEmbeddingNorm);
  for (int i = 0; i < c.n_layers; ++i)
    w.layers.push_back(BertLayer{linear(i, kQ, dim, dim), linear(i, kK, dim, dim), linear(i, kV, dim, dim),
                                 linear(i, kO, dim, dim), norm(i, kAttnNorm), linear(i, kUp, dim, hid),
                                 linear(i, kDown, hid, dim), norm(i, kOutNorm)});
  return w;
}

// --- Hugging Face folder ---

BertConfig hf_config(const ConfigJson& cfg) {
  const std::string arch = cfg.architecture();
  if (!arch.starts_with("Bert"))
    cfg.bad("architectures", "names '" + arch + "', not a BERT model (BertModel, BertForMaskedLM, ...)");
  BertConfig c;
  c.dim = cfg.get_int("hidden_size");
  c.hidden_dim = cfg.get_int("intermediate_size");
  c.n_layers = cfg.get_int("num_hidden_layers");
  c.n_heads = cfg.get_int("num_attention_heads");
  c.vocab_size = cfg.get_int("vocab_size");
  c.max_positions = cfg.get_int("max_position_embeddings");
  c.n_token_types = cfg.opt_int("type_vocab_size").value_or(2);
  c.eps = cfg.opt_float("layer_norm_eps").value_or(1e-12f);
  cfg.require_string("hidden_act", {"gelu"}, "BERT's erf GELU, \"gelu\", only");
  cfg.require_string("position_embedding_type", {"absolute"}, "\"absolute\" only");
  cfg.checked([&] { validate(c); });
  return c;
}

std::unique_ptr<BertModel> load_hf_bert(const std::string& dir) {
  auto m = std::make_unique<BertModel>();
  m->format = "safetensors";
  m->config = hf_config(ConfigJson((fs::path(dir) / "config.json").string(), "a Hugging Face BERT folder"));
  const SafetensorsSet set(dir);
  try {
    // The task-head classes (BertForMaskedLM, ...) keep the encoder under `bert.`.
    const Finder find = [&](const std::string& name) {
      for (const std::string& prefix : {std::string(), std::string("bert.")})
        if (const Tensor* t = set.find(prefix + name)) return *t;
      fail("model has no tensor '", name, "'");
    };
    m->weights = build_weights(m->config, find, hf_name);
  } catch (const Error& e) {
    fail(dir, ": ", e.what());
  }
  m->tensors = set.tensors();
  m->files = set.files();
  m->vocab = read_hf_tokenizer(dir);
  if (m->vocab.model != "bert") fail(dir, ": tokenizer.json is not WordPiece, which BERT needs");
  if (m->vocab.size() != m->config.vocab_size)
    fail(dir, ": tokenizer has ", m->vocab.size(), " tokens but config.json's vocab_size is ", m->config.vocab_size);
  return m;
}

// --- GGUF ---

constexpr const char* kArch = "general.architecture";
// llama.cpp's pooling types (LLAMA_POOLING_TYPE_MEAN, _CLS).
constexpr uint32_t kPoolingMean = 1, kPoolingCls = 2;

bool is_gguf(const std::string& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return false;
  const MappedFile f(path);
  return f.size() >= 4 && std::memcmp(f.data(), "GGUF", 4) == 0;
}

BertConfig gguf_config(const GgufFile& g, const Vocab& vocab) {
  BertConfig c;
  c.max_positions = g.get_i32("bert.context_length");
  c.dim = g.get_i32("bert.embedding_length");
  c.hidden_dim = g.get_i32("bert.feed_forward_length");
  c.n_layers = g.get_i32("bert.block_count");
  c.n_heads = g.get_i32("bert.attention.head_count");
  c.eps = g.get_f32("bert.attention.layer_norm_epsilon");
  c.vocab_size = vocab.size();
  const Tensor* types = g.find_tensor("token_types.weight");
  if (!types || types->shape.size() != 2) fail("GGUF file has no 2-D tensor 'token_types.weight'");
  c.n_token_types = int32_t(types->shape[1]);
  const uint32_t pooling = g.opt_u32("bert.pooling_type").value_or(kPoolingCls);
  if (pooling != kPoolingMean && pooling != kPoolingCls)
    fail("bert.pooling_type = ", pooling, " is not supported (1: mean, 2: cls)");
  c.pooling = pooling == kPoolingMean ? Pooling::Mean : Pooling::Cls;
  validate(c);
  return c;
}

std::unique_ptr<BertModel> load_gguf_bert(const std::string& path) {
  auto file = std::make_shared<const MappedFile>(path);
  auto m = std::make_unique<BertModel>();
  m->format = "gguf";
  try {
    const GgufFile g(file);
    if (g.get_string(kArch) != "bert") fail(kArch, " is '", g.get_string(kArch), "', not 'bert'");
    m->vocab = read_gguf_tokenizer(g);
    if (m->vocab.model != "bert") fail("tokenizer model '", m->vocab.model, "' is not 'bert' (WordPiece)");
    m->config = gguf_config(g, m->vocab);
    const Finder find = [&](const std::string& name) {
      if (const Tensor* t = g.find_tensor(name)) return *t;
      fail("GGUF file has no tensor '", name, "'");
    };
    m->weights = build_weights(m->config, find, gguf_name);
    m->tensors = g.tensors();
  } catch (const Error& e) {
    fail(path, ": ", e.what());
  }
  m->files.push_back(std::move(file));
  return m;
}

std::vector<uint8_t> f32_bytes(const std::vector<float>& v) {
  std::vector<uint8_t> out(v.size() * sizeof(float));
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

std::span<const uint8_t> bytes_of(const Tensor& t) { return {static_cast<const uint8_t*>(t.data), t.bytes()}; }

}  // namespace

bool is_bert_model(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const fs::path config = fs::path(path) / "config.json";
    if (!fs::exists(config, ec)) return false;
    const ConfigJson cfg(config.string(), "config.json");
    return cfg.has("architectures") && cfg.architecture().starts_with("Bert");
  }
  if (!is_gguf(path)) return false;
  const GgufFile g(std::make_shared<const MappedFile>(path));
  return g.opt_string(kArch).value_or("") == "bert";
}

std::unique_ptr<BertModel> load_bert(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return load_hf_bert(path);
  if (!is_gguf(path)) fail(path, ": not a BERT model (a Hugging Face folder or a GGUF file was expected)");
  return load_gguf_bert(path);
}

void write_bert_gguf(const BertModel& m, const std::string& path) {
  const BertConfig& c = m.config;
  const BertWeights& wt = m.weights;
  GgufWriter w;
  w.add_string(kArch, "bert");
  w.add_string("general.name", m.files.empty() ? std::string("lumen") : fs::path(m.files[0]->path()).parent_path().filename().string());
  w.add_u32("bert.context_length", uint32_t(c.max_positions));
  w.add_u32("bert.embedding_length", uint32_t(c.dim));
  w.add_u32("bert.feed_forward_length", uint32_t(c.hidden_dim));
  w.add_u32("bert.block_count", uint32_t(c.n_layers));
  w.add_u32("bert.attention.head_count", uint32_t(c.n_heads));
  w.add_f32("bert.attention.layer_norm_epsilon", c.eps);
  w.add_bool("bert.attention.causal", false);
  w.add_u32("bert.pooling_type", c.pooling == Pooling::Mean ? kPoolingMean : kPoolingCls);
  write_gguf_tokenizer(w, m.vocab);
  w.add_u32("tokenizer.ggml.token_type_count", uint32_t(c.n_token_types));  // segments, as llama.cpp writes it

  auto table = [&](int part, const Tensor& t) { w.add_tensor(gguf_name(-1, part, "weight"), t.type, t.shape, bytes_of(t)); };
  auto vector = [&](int layer, int part, const char* suffix, const std::vector<float>& v) {
    w.add_tensor(gguf_name(layer, part, suffix), DType::F32, {int64_t(v.size())}, f32_bytes(v));
  };
  auto norm = [&](int layer, int part, const LayerNormWeights& n) {
    vector(layer, part, "weight", n.weight);
    vector(layer, part, "bias", n.bias);
  };
  auto linear = [&](int layer, int part, const Linear& l) {
    w.add_tensor(gguf_name(layer, part, "weight"), l.weight.type, l.weight.shape, bytes_of(l.weight));
    vector(layer, part, "bias", l.bias);
  };
  table(kWords, wt.token_embd);
  table(kTypes, wt.type_embd);
  table(kPositions, wt.pos_embd);
  norm(-1, kEmbeddingNorm, wt.embd_norm);
  for (int i = 0; i < int(wt.layers.size()); ++i) {
    const BertLayer& l = wt.layers[i];
    linear(i, kQ, l.q);
    linear(i, kK, l.k);
    linear(i, kV, l.v);
    linear(i, kO, l.o);
    norm(i, kAttnNorm, l.attn_norm);
    linear(i, kUp, l.up);
    linear(i, kDown, l.down);
    norm(i, kOutNorm, l.out_norm);
  }
  w.write(path);
}

}  // namespace lumen
