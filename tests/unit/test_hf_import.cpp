// Hugging Face import: safetensors parsing, config.json, sharded indexes and architecture
// dispatch. Every bad input is a one-line lumen::Error naming the field, tensor or shard.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "formats/hf_model.h"
#include "formats/loaded_model.h"
#include "formats/safetensors.h"
#include "kernels/ops.h"
#include "model_file_helpers.h"
#include "test_paths.h"

namespace lumen::test {
namespace {

using nlohmann::json;

// A safetensors file from a header (as JSON) and raw data bytes.
std::vector<uint8_t> safetensors_bytes(const json& header, const std::vector<uint8_t>& data) {
  const std::string text = header.dump();
  const uint64_t n = text.size();
  std::vector<uint8_t> out(8 + text.size());
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, text.data(), text.size());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

// Random-ish F32 tensors, written with consistent offsets.
struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;  // row-major, as torch
};

std::vector<uint8_t> make_safetensors(const std::vector<TensorSpec>& specs) {
  json header = json::object();
  std::vector<uint8_t> data;
  uint32_t seed = 1;
  for (const TensorSpec& s : specs) {
    int64_t n = 1;
    for (int64_t d : s.shape) n *= d;
    const size_t begin = data.size();
    for (int64_t i = 0; i < n; ++i) {
      seed = seed * 1664525u + 1013904223u;
      const float v = (float(seed >> 8) / float(1 << 24) - 0.5f) * 0.2f;
      const auto* p = reinterpret_cast<const uint8_t*>(&v);
      data.insert(data.end(), p, p + 4);
    }
    header[s.name] = {{"dtype", "F32"}, {"shape", s.shape}, {"data_offsets", {begin, data.size()}}};
  }
  return safetensors_bytes(header, data);
}

json llama_config() {
  return {{"architectures", {"LlamaForCausalLM"}}, {"hidden_size", 8}, {"intermediate_size", 16},
          {"num_hidden_layers", 1}, {"num_attention_heads", 2}, {"num_key_value_heads", 1},
          {"vocab_size", 512}, {"max_position_embeddings", 32}, {"rms_norm_eps", 1e-5}, {"rope_theta", 10000.0},
          {"tie_word_embeddings", false}};
}

std::vector<TensorSpec> llama_tensors(int64_t hidden = 16) {
  std::vector<TensorSpec> t = {{"model.embed_tokens.weight", {512, 8}}, {"model.norm.weight", {8}},
                               {"lm_head.weight", {512, 8}}};
  const std::string p = "model.layers.0.";
  t.push_back({p + "input_layernorm.weight", {8}});
  t.push_back({p + "post_attention_layernorm.weight", {8}});
  t.push_back({p + "self_attn.q_proj.weight", {8, 8}});
  t.push_back({p + "self_attn.k_proj.weight", {4, 8}});
  t.push_back({p + "self_attn.v_proj.weight", {4, 8}});
  t.push_back({p + "self_attn.o_proj.weight", {8, 8}});
  t.push_back({p + "mlp.gate_proj.weight", {hidden, 8}});
  t.push_back({p + "mlp.up_proj.weight", {hidden, 8}});
  t.push_back({p + "mlp.down_proj.weight", {8, hidden}});
  return t;
}

void write_text(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

std::string write_model(const ScratchDir& dir, const json& config, const std::vector<uint8_t>& weights) {
  write_text(dir.path("config.json"), config.dump());
  dir.write("model.safetensors", weights);
  return dir.path("");
}

std::string tokenizer() { return source_path("models/tok512.bin"); }

std::string load_error(const std::string& dir) {
  return error_of([&] { load_model(dir, tokenizer()); });
}

std::string safetensors_error(const ScratchDir& dir, const json& header, size_t data_bytes) {
  const std::string p = dir.write("bad.safetensors", safetensors_bytes(header, std::vector<uint8_t>(data_bytes)));
  return error_of([&] { SafetensorsFile f(map_file(p)); });
}

TEST(HfImport, LoadsALlamaFolder) {
  ScratchDir dir;
  const auto m = load_model(write_model(dir, llama_config(), make_safetensors(llama_tensors())), tokenizer());
  EXPECT_EQ(m->format, "safetensors");
  EXPECT_EQ(m->config.architecture, "llama");
  EXPECT_EQ(m->config.rope_style, RopeStyle::NeoX);
  EXPECT_EQ(m->config.n_kv_heads, 1);
  EXPECT_EQ(m->weights.layers[0].wk.shape, (std::vector<int64_t>{8, 4}));  // torch [out, in] -> {in, out}
  EXPECT_FALSE(m->weights.tied_output);
}

TEST(HfImport, ConfigMissingAField) {
  ScratchDir dir;
  json config = llama_config();
  config.erase("num_hidden_layers");
  const std::string msg = load_error(write_model(dir, config, make_safetensors(llama_tensors())));
  EXPECT_NE(msg.find("missing field 'num_hidden_layers'"), std::string::npos) << msg;
}

TEST(HfImport, ConfigContradictsTensorShapes) {
  ScratchDir dir;
  json config = llama_config();
  config["intermediate_size"] = 24;  // the tensors are built for 16
  const std::string msg = load_error(write_model(dir, config, make_safetensors(llama_tensors(16))));
  EXPECT_NE(msg.find("model.layers.0.mlp.gate_proj.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[8, 16]"), std::string::npos) << msg;
}

TEST(HfImport, ConfigContradictsItself) {
  ScratchDir dir;
  json config = llama_config();
  config["head_dim"] = 5;
  const std::string msg = load_error(write_model(dir, config, make_safetensors(llama_tensors())));
  EXPECT_NE(msg.find("'head_dim'"), std::string::npos) << msg;
}

TEST(HfImport, MissingTensorIsNamed) {
  ScratchDir dir;
  auto tensors = llama_tensors();
  tensors.pop_back();  // mlp.down_proj
  const std::string msg = load_error(write_model(dir, llama_config(), make_safetensors(tensors)));
  EXPECT_NE(msg.find("model.layers.0.mlp.down_proj.weight"), std::string::npos) << msg;
}

TEST(HfImport, UnknownArchitecture) {
  ScratchDir dir;
  json config = llama_config();
  config["architectures"] = {"FalconForCausalLM"};
  const std::string msg = load_error(write_model(dir, config, make_safetensors(llama_tensors())));
  EXPECT_NE(msg.find("architecture 'FalconForCausalLM' is not supported"), std::string::npos) << msg;
}

// GPT-2's and BLOOM's default FFN width, 4 * dim, overflowed int32 (UBSan)
// for a dim past 2^29, before the hyper-parameters were checked.
TEST(HfImport, HugeDimIsRefusedWithoutOverflow) {
  ScratchDir dir;
  const json gpt2 = {{"architectures", {"GPT2LMHeadModel"}}, {"n_embd", 1 << 30}, {"n_layer", 1}, {"n_head", 2},
                     {"vocab_size", 512}, {"n_positions", 32}};
  EXPECT_NE(load_error(write_model(dir, gpt2, make_safetensors({}))).find("dim = 1073741824 is out of range"),
            std::string::npos);
  const json bloom = {{"architectures", {"BloomForCausalLM"}}, {"hidden_size", 1 << 30}, {"n_layer", 1},
                      {"n_head", 2}, {"vocab_size", 512}};
  EXPECT_NE(load_error(write_model(dir, bloom, make_safetensors({}))).find("dim = 1073741824 is out of range"),
            std::string::npos);
}

// A config.json value nested 200000 deep overflowed the stack when the
// error message printed it (nlohmann's dump recurses). Safetensors headers get the same limit.
TEST(HfImport, DeeplyNestedJsonIsRefused) {
  ScratchDir dir;
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  write_text(dir.path("config.json"), R"({"architectures": ["LlamaForCausalLM"], "hidden_size": )" + deep + "}");
  dir.write("model.safetensors", make_safetensors(llama_tensors()));
  const std::string msg = load_error(dir.path(""));
  EXPECT_NE(msg.find("config.json: not valid JSON"), std::string::npos) << msg;
  EXPECT_NE(msg.find("nested more than 128 levels deep"), std::string::npos) << msg;

  const std::string header = R"({"w": {"dtype": "F32", "shape": )" + deep + R"(, "data_offsets": [0, 4]}})";
  std::vector<uint8_t> bytes(8);
  const uint64_t n = header.size();
  std::memcpy(bytes.data(), &n, 8);
  bytes.insert(bytes.end(), header.begin(), header.end());
  const std::string p = dir.write("deep.safetensors", bytes);
  EXPECT_NE(error_of([&] { SafetensorsFile f(map_file(p)); }).find("nested more than 128 levels deep"), std::string::npos);
}

TEST(HfImport, IndexNamingAMissingShard) {
  ScratchDir dir;
  write_text(dir.path("config.json"), llama_config().dump());
  dir.write("model-00001-of-00002.safetensors", make_safetensors(llama_tensors()));
  json map = json::object();
  for (const TensorSpec& t : llama_tensors()) map[t.name] = "model-00001-of-00002.safetensors";
  map["model.norm.weight"] = "model-00002-of-00002.safetensors";
  write_text(dir.path("model.safetensors.index.json"), json{{"metadata", json::object()}, {"weight_map", map}}.dump());
  const std::string msg = load_error(dir.path(""));
  EXPECT_NE(msg.find("shard 'model-00002-of-00002.safetensors'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("does not exist"), std::string::npos) << msg;
}

TEST(HfImport, ShardedModelLoads) {
  ScratchDir dir;
  write_text(dir.path("config.json"), llama_config().dump());
  const auto all = llama_tensors();
  const std::vector<TensorSpec> first(all.begin(), all.begin() + 5), second(all.begin() + 5, all.end());
  dir.write("a.safetensors", make_safetensors(first));
  dir.write("b.safetensors", make_safetensors(second));
  json map = json::object();
  for (const TensorSpec& t : first) map[t.name] = "a.safetensors";
  for (const TensorSpec& t : second) map[t.name] = "b.safetensors";
  write_text(dir.path("model.safetensors.index.json"), json{{"weight_map", map}}.dump());
  const auto m = load_model(dir.path(""), tokenizer());
  EXPECT_EQ(m->files.size(), 2u);
}

TEST(Safetensors, HeaderLengthBeyondTheFile) {
  ScratchDir dir;
  std::vector<uint8_t> bytes = make_safetensors({{"w", {2, 2}}});
  const uint64_t huge = bytes.size();  // header length alone as long as the whole file
  std::memcpy(bytes.data(), &huge, 8);
  const std::string p = dir.write("long.safetensors", bytes);
  const std::string msg = error_of([&] { SafetensorsFile f(map_file(p)); });
  EXPECT_NE(msg.find("runs past the end of the file"), std::string::npos) << msg;
}

TEST(Safetensors, OffsetsPastTheEnd) {
  ScratchDir dir;
  const json h = {{"w", {{"dtype", "F32"}, {"shape", {2, 2}}, {"data_offsets", {0, 16}}}}};
  const std::string msg = safetensors_error(dir, h, 8);
  EXPECT_NE(msg.find("tensor 'w'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("past the end"), std::string::npos) << msg;
}

TEST(Safetensors, OffsetsEndBeforeBegin) {
  ScratchDir dir;
  const json h = {{"w", {{"dtype", "F32"}, {"shape", {2}}, {"data_offsets", {16, 8}}}}};
  const std::string msg = safetensors_error(dir, h, 16);
  EXPECT_NE(msg.find("tensor 'w'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("before begin"), std::string::npos) << msg;
}

TEST(Safetensors, SizeDisagreesWithShape) {
  ScratchDir dir;
  const json h = {{"w", {{"dtype", "F16"}, {"shape", {3, 2}}, {"data_offsets", {0, 16}}}}};
  const std::string msg = safetensors_error(dir, h, 16);
  EXPECT_NE(msg.find("tensor 'w'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("needs 12"), std::string::npos) << msg;
}

TEST(Safetensors, OverlappingTensors) {
  ScratchDir dir;
  const json h = {{"a", {{"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {0, 16}}}},
                  {"b", {{"dtype", "F32"}, {"shape", {4}}, {"data_offsets", {8, 24}}}}};
  const std::string msg = safetensors_error(dir, h, 24);
  EXPECT_NE(msg.find("tensor 'b' overlaps tensor 'a'"), std::string::npos) << msg;
}

TEST(Safetensors, UnknownDtype) {
  ScratchDir dir;
  const json h = {{"w", {{"dtype", "Q7"}, {"shape", {4}}, {"data_offsets", {0, 4}}}}};
  const std::string msg = safetensors_error(dir, h, 4);
  EXPECT_NE(msg.find("tensor 'w'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("dtype 'Q7'"), std::string::npos) << msg;
}

TEST(Safetensors, ReadsMetadataAndReversesShapes) {
  ScratchDir dir;
  json h = {{"__metadata__", {{"format", "pt"}}},
            {"w", {{"dtype", "BF16"}, {"shape", {3, 2}}, {"data_offsets", {0, 12}}}}};
  const std::string p = dir.write("ok.safetensors", safetensors_bytes(h, std::vector<uint8_t>(12)));
  SafetensorsFile f(map_file(p));
  EXPECT_EQ(f.metadata().at("format"), "pt");
  ASSERT_NE(f.find("w"), nullptr);
  EXPECT_EQ(f.find("w")->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(f.find("w")->type, DType::BF16);
}

// The family kernels against hand-computed values.
TEST(FamilyOps, AlibiSlopes) {
  float s8[8], s5[5];
  alibi_slopes(s8, 8);
  for (int h = 0; h < 8; ++h) EXPECT_FLOAT_EQ(s8[h], std::pow(2.0f, -float(h + 1)));
  alibi_slopes(s5, 5);  // 4 heads of the power-of-two series, then 2^(-8/8) from the interleaved one
  const float want[5] = {0.25f, 0.0625f, 0.015625f, 0.00390625f, 0.5f};
  for (int h = 0; h < 5; ++h) EXPECT_FLOAT_EQ(s5[h], want[h]);
}

TEST(FamilyOps, LayerNormAndGelu) {
  const float x[4] = {1, 2, 3, 4}, w[4] = {1, 1, 2, 1}, b[4] = {0, 0, 0, 1};
  float out[4];
  layernorm(out, x, w, b, 4, 0.0f);  // mean 2.5, variance 1.25
  const float inv = 1.0f / std::sqrt(1.25f);
  EXPECT_NEAR(out[0], -1.5f * inv, 1e-6);
  EXPECT_NEAR(out[2], 2 * 0.5f * inv, 1e-6);
  EXPECT_NEAR(out[3], 1.5f * inv + 1, 1e-6);
  float g[3] = {1.0f, -1.0f, 0.0f};
  gelu_tanh(g, 3);
  EXPECT_NEAR(g[0], 0.8411920f, 1e-6);
  EXPECT_NEAR(g[1], -0.1588080f, 1e-6);
  EXPECT_EQ(g[2], 0.0f);
}

}  // namespace
}  // namespace lumen::test
