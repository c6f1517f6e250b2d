#include "formats/seq2seq_files.h"

#include <filesystem>
#include <functional>

#include "formats/config_json.h"
#include "formats/safetensors.h"
#include "util/error.h"

namespace lumen {
namespace {

namespace fs = std::filesystem;

constexpr const char* kArchitecture = "TransformerSeq2Seq";

Seq2SeqConfig read_config(const ConfigJson& cfg) {
  const std::string arch = cfg.architecture();
  if (arch != kArchitecture) cfg.bad("architectures", "names '" + arch + "', not '" + kArchitecture + "'");
  Seq2SeqConfig c;
  c.d_model = cfg.get_int("d_model");
  c.n_heads = cfg.get_int("nhead");
  c.n_encoder_layers = cfg.get_int("num_encoder_layers");
  c.n_decoder_layers = cfg.get_int("num_decoder_layers");
  c.ffn_dim = cfg.get_int("dim_feedforward");
  c.src_vocab_size = cfg.get_int("src_vocab_size");
  c.tgt_vocab_size = cfg.get_int("tgt_vocab_size");
  c.max_len = cfg.get_int("max_len");
  c.eps = cfg.opt_float("layer_norm_eps").value_or(1e-5f);
  c.pad_id = cfg.get_int("pad_id");
  c.bos_id = cfg.get_int("bos_id");
  c.eos_id = cfg.get_int("eos_id");
  c.unk_id = cfg.get_int("unk_id");
  cfg.require_string("activation", {"relu"}, "\"relu\" only");
  cfg.checked([&] { validate(c); });
  return c;
}

using Finder = std::function<Tensor(const std::string&)>;

AttentionWeights attention(const Finder& find, const std::string& prefix, int64_t d) {
  return make_multihead_attention(find(prefix + "in_proj_weight"), find(prefix + "in_proj_bias"),
                                  find(prefix + "out_proj.weight"), find(prefix + "out_proj.bias"), d);
}

Seq2SeqWeights read_weights(const Seq2SeqConfig& c, const Finder& find) {
  const int64_t d = c.d_model, ff = c.ffn_dim;
  auto norm = [&](const std::string& p) { return make_layernorm(find(p + ".weight"), find(p + ".bias"), d, c.eps); };
  auto linear = [&](const std::string& p, int64_t in, int64_t out) {
    return make_linear(find(p + ".weight"), find(p + ".bias"), in, out);
  };
  Seq2SeqWeights w;
  w.src_embed = find("src_embed.weight");
  w.tgt_embed = find("tgt_embed.weight");
  expect_tensor_shape(w.src_embed, "source embedding", {d, c.src_vocab_size});
  expect_tensor_shape(w.tgt_embed, "target embedding", {d, c.tgt_vocab_size});
  for (int i = 0; i < c.n_encoder_layers; ++i) {
    const std::string p = "encoder.layers." + std::to_string(i) + ".";
    w.encoder.push_back({attention(find, p + "self_attn.", d), norm(p + "norm1"), linear(p + "linear1", d, ff),
                         linear(p + "linear2", ff, d), norm(p + "norm2")});
  }
  w.encoder_norm = norm("encoder.norm");
  for (int i = 0; i < c.n_decoder_layers; ++i) {
    const std::string p = "decoder.layers." + std::to_string(i) + ".";
    w.decoder.push_back({attention(find, p + "self_attn.", d), norm(p + "norm1"),
                         attention(find, p + "multihead_attn.", d), norm(p + "norm2"), linear(p + "linear1", d, ff),
                         linear(p + "linear2", ff, d), norm(p + "norm3")});
  }
  w.decoder_norm = norm("decoder.norm");
  w.generator = linear("generator", d, c.tgt_vocab_size);
  return w;
}

WordVocab read_vocab(const fs::path& path, int32_t expected, const char* field) {
  WordVocab v = WordVocab::read(path.string());
  if (v.size() != expected)
    fail(path.string(), ": ", v.size(), " tokens but config.json's ", field, " is ", expected);
  return v;
}

}  // namespace

std::unique_ptr<Seq2SeqModel> load_seq2seq(const std::string& dir) {
  auto m = std::make_unique<Seq2SeqModel>();
  const fs::path root(dir);
  m->config = read_config(ConfigJson((root / "config.json").string(), "an encoder-decoder model folder"));
  const SafetensorsSet set(dir);
  try {
    const Finder find = [&](const std::string& name) {
      if (const Tensor* t = set.find(name)) return *t;
      fail("model has no tensor '", name, "'");
    };
    m->weights = read_weights(m->config, find);
  } catch (const Error& e) {
    fail(dir, ": ", e.what());
  }
  m->tensors = set.tensors();
  m->files = set.files();
  m->src_vocab = read_vocab(root / "src_vocab.txt", m->config.src_vocab_size, "src_vocab_size");
  m->tgt_vocab = read_vocab(root / "tgt_vocab.txt", m->config.tgt_vocab_size, "tgt_vocab_size");
  return m;
}

}  // namespace lumen
