// GGUF reading and writing: every metadata type through the writer and back, llama.cpp's own
// files (stories260K and the vocab-only files), and llama2.c -> GGUF conversion.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <functional>

#include "formats/gguf.h"
#include "formats/gguf_model.h"
#include "formats/gguf_tokenizer.h"
#include "formats/gguf_writer.h"
#include "cli_runner.h"
#include "model_file_helpers.h"
#include "test_paths.h"
#include "util/error.h"

namespace lumen {
namespace {

using test::error_of;
using test::map_file;
using test::ScratchDir;
using test::source_path;

template <typename T>
std::span<const uint8_t> as_bytes(const std::vector<T>& v) {
  return {reinterpret_cast<const uint8_t*>(v.data()), v.size() * sizeof(T)};
}

std::span<const uint8_t> bytes_of(const Tensor& t) { return {static_cast<const uint8_t*>(t.data), t.bytes()}; }

TEST(Gguf, WriterAndReaderRoundTripEveryMetadataType) {
  ScratchDir dir;
  GgufWriter w;
  w.add_u8("t.u8", 200);
  w.add_i8("t.i8", -100);
  w.add_u16("t.u16", 60000);
  w.add_i16("t.i16", -30000);
  w.add_u32("t.u32", 4000000000u);
  w.add_i32("t.i32", -2000000000);
  w.add_u64("t.u64", 1ull << 40);
  w.add_i64("t.i64", -(1ll << 40));
  w.add_f32("t.f32", 1.5f);
  w.add_f64("t.f64", 0.25);
  w.add_bool("t.bool", true);
  w.add_string("t.string", "h\xc3\xa9llo");
  w.add_string_array("t.strings", {"a", "", "\xe2\x96\x81the"});
  w.add_f32_array("t.floats", std::vector<float>{1.0f, -2.5f});
  w.add_i32_array("t.ints", std::vector<int32_t>{7, -8, 9});
  const std::vector<float> f32 = {1, 2, 3, 4, 5, 6};
  const std::vector<uint16_t> f16 = {f32_to_f16(1), f32_to_f16(-2), f32_to_f16(0.5f)};
  std::vector<uint8_t> q8(2 * 34);
  for (size_t i = 0; i < q8.size(); ++i) q8[i] = uint8_t(i * 7);
  w.add_tensor("m", DType::F32, {3, 2}, as_bytes(f32));
  w.add_tensor("v", DType::F16, {3}, as_bytes(f16));
  w.add_tensor("q", DType::Q8_0, {32, 2}, std::vector<uint8_t>(q8));
  const std::string path = dir.path("all.gguf");
  w.write(path);

  const GgufFile g(map_file(path));
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(g.metadata().size(), 15u);
  EXPECT_EQ(g.get_u32("t.u8"), 200u);
  EXPECT_EQ(g.get_i32("t.i8"), -100);
  EXPECT_EQ(g.get_u32("t.u16"), 60000u);
  EXPECT_EQ(g.get_i32("t.i16"), -30000);
  EXPECT_EQ(g.get_u32("t.u32"), 4000000000u);
  EXPECT_EQ(g.get_i32("t.i32"), -2000000000);
  EXPECT_EQ(g.get_u64("t.u64"), 1ull << 40);
  EXPECT_EQ(describe(*g.find("t.i64")), "i64 -1099511627776");
  EXPECT_EQ(g.get_f32("t.f32"), 1.5f);
  EXPECT_EQ(g.get_f32("t.f64"), 0.25f);
  EXPECT_TRUE(g.get_bool("t.bool"));
  EXPECT_EQ(g.get_string("t.string"), "h\xc3\xa9llo");
  EXPECT_EQ(g.get_string_array("t.strings"), (std::vector<std::string>{"a", "", "\xe2\x96\x81the"}));
  EXPECT_EQ(g.get_f32_array("t.floats"), (std::vector<float>{1.0f, -2.5f}));
  EXPECT_EQ(g.get_i32_array("t.ints"), (std::vector<int32_t>{7, -8, 9}));
  EXPECT_EQ(describe(*g.find("t.strings")), "array of 3 string");

  ASSERT_EQ(g.tensors().size(), 3u);
  const Tensor* m = g.find_tensor("m");
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(std::memcmp(m->data, f32.data(), 24), 0);
  EXPECT_EQ(std::memcmp(g.find_tensor("v")->data, f16.data(), 6), 0);
  EXPECT_EQ(g.find_tensor("q")->type, DType::Q8_0);
  EXPECT_EQ(std::memcmp(g.find_tensor("q")->data, q8.data(), q8.size()), 0);
  for (const Tensor& t : g.tensors()) EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data) % 32, 0u) << t.name;
}

TEST(Gguf, GettersNameTheKeyOnMissingKeyWrongTypeAndOverflow) {
  ScratchDir dir;
  GgufWriter w;
  w.add_i32("neg", -1);
  w.add_string("name", "x");
  const std::string path = dir.path("g.gguf");
  w.write(path);
  const GgufFile g(map_file(path));
  EXPECT_EQ(g.opt_u32("absent"), std::nullopt);
  EXPECT_EQ(error_of([&] { g.get_u32("absent"); }), "GGUF metadata key 'absent' is missing");
  EXPECT_EQ(error_of([&] { g.get_u32("neg"); }), "GGUF metadata key 'neg' value -1 does not fit u32");
  EXPECT_EQ(error_of([&] { g.get_u32("name"); }), "GGUF metadata key 'name' is string 'x', expected u32");
  EXPECT_EQ(error_of([&] { g.get_f32_array("name"); }),
            "GGUF metadata key 'name' is string 'x', expected an array of f32");
}

TEST(Gguf, ReadsNestedArraysByteByByte) {
  // The writer has no nested arrays (llama.cpp writes none), so this file is encoded by hand:
  // one key holding [[1, 2], [3]] as arrays of i32, then a plain key after it.
  GgufEncoder e;
  e.put_bytes({reinterpret_cast<const uint8_t*>("GGUF"), 4});
  e.put(uint32_t(3));
  e.put(uint64_t(0));
  e.put(uint64_t(2));
  e.put_string("nested");
  e.put_type(GgufType::Array);
  e.put_type(GgufType::Array);
  e.put(uint64_t(2));
  for (const std::vector<int32_t>& inner : {std::vector<int32_t>{1, 2}, std::vector<int32_t>{3}}) {
    e.put_type(GgufType::I32);
    e.put(uint64_t(inner.size()));
    for (int32_t x : inner) e.put(x);
  }
  e.put_string("after");
  e.put_type(GgufType::U32);
  e.put(uint32_t(42));
  ScratchDir dir;
  const GgufFile g(map_file(dir.write("nested.gguf", e.bytes())));
  EXPECT_EQ(describe(*g.find("nested")), "array of 2 array");
  EXPECT_EQ(g.get_u32("after"), 42u);
  EXPECT_NE(error_of([&] { g.get_i32_array("nested"); }).find("expected an array of i32"), std::string::npos);
}

// llama.cpp's vocab-only files have no tensors and end before the aligned data offset.
void expect_vocab_file_reads(const std::filesystem::path& path) {
  SCOPED_TRACE(path.string());
  const GgufFile g(map_file(path.string()));
  EXPECT_TRUE(g.tensors().empty());
  const Vocab v = read_gguf_tokenizer(g);
  EXPECT_GT(v.size(), 1000);
  EXPECT_EQ(v.scores.size(), v.pieces.size());
  EXPECT_EQ(v.types.size(), v.pieces.size());
  EXPECT_EQ(v.model, g.get_string("tokenizer.ggml.model"));
}

TEST(Gguf, ReadsLlamaCppVocabOnlyFiles) {
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator(source_path("tests/data/ggml-vocab")))
    if (entry.path().extension() == ".gguf") {
      expect_vocab_file_reads(entry.path());
      ++n;
    }
  EXPECT_GE(n, 4);
}

TEST(Gguf, ReadsEverySharedVocabOnlyFile) {
  const std::filesystem::path shared = source_path("../shared/models/ggml-vocab");
  if (!std::filesystem::exists(shared)) GTEST_SKIP() << "no " << shared;
  for (const auto& entry : std::filesystem::directory_iterator(shared))
    if (entry.path().extension() == ".gguf") expect_vocab_file_reads(entry.path());
}

TEST(Gguf, LlamaSpmVocabHasSentencePieceLayout) {
  const GgufFile g(map_file(source_path("tests/data/ggml-vocab/ggml-vocab-llama-spm.gguf")));
  const Vocab v = read_gguf_tokenizer(g);
  EXPECT_EQ(v.model, "llama");
  EXPECT_EQ(v.size(), 32000);
  EXPECT_EQ(v.bos_id, 1);
  EXPECT_EQ(v.eos_id, 2);
  EXPECT_EQ(v.pieces[1], "<s>");
  EXPECT_EQ(v.types[3], TokenType::Byte);
  EXPECT_EQ(v.pieces[3], "<0x00>");
}

TEST(Gguf, TokenIdStoredAsNoneBecomesMinusOne) {
  ScratchDir dir;
  GgufWriter w;
  w.add_string_array("tokenizer.ggml.tokens", {"<unk>", "<s>", "</s>"});
  w.add_u32("tokenizer.ggml.bos_token_id", 0xFFFFFFFFu);
  w.write(dir.path("none.gguf"));
  const Vocab v = read_gguf_tokenizer(GgufFile(map_file(dir.path("none.gguf"))));
  EXPECT_EQ(v.bos_id, -1);
  EXPECT_EQ(v.eos_id, 2);  // absent: Vocab's default
}

TEST(Gguf, LoadsLlamaCppStories260K) {
  const auto m = load_model(source_path("models/stories260K.gguf"));
  EXPECT_EQ(m->format, "gguf");
  const ModelConfig& c = m->config;
  EXPECT_EQ(c.dim, 64);
  EXPECT_EQ(c.hidden_dim, 172);
  EXPECT_EQ(c.n_layers, 5);
  EXPECT_EQ(c.n_heads, 8);
  EXPECT_EQ(c.n_kv_heads, 4);
  EXPECT_EQ(c.vocab_size, 512);
  EXPECT_EQ(c.context_length, 2048);
  EXPECT_EQ(c.rope_style, RopeStyle::Adjacent);
  // llama.cpp's converter stored the shared classifier again as output.weight.
  EXPECT_FALSE(m->weights.tied_output);
  EXPECT_EQ(m->tensors.size(), 48u);
}

// llama.cpp's conversion of stories260K holds the llama2.c checkpoint's tensors byte for byte,
// and its vocabulary is tok512's.
TEST(Gguf, Stories260KMatchesTheLlama2cCheckpoint) {
  const auto gguf = load_model(source_path("models/stories260K.gguf"));
  const auto bin = load_model(source_path("models/stories260K.bin"), source_path("models/tok512.bin"));
  auto same = [](const Tensor& a, const Tensor& b) {
    return a.shape == b.shape && a.type == b.type && std::memcmp(a.data, b.data, a.bytes()) == 0;
  };
  EXPECT_TRUE(same(gguf->weights.token_embd, bin->weights.token_embd));
  EXPECT_TRUE(same(gguf->weights.output_norm, bin->weights.output_norm));
  for (int i = 0; i < 5; ++i) {
    const LayerWeights &a = gguf->weights.layers[i], &b = bin->weights.layers[i];
    for (auto member : {&LayerWeights::attn_norm, &LayerWeights::wq, &LayerWeights::wk, &LayerWeights::wv,
                        &LayerWeights::wo, &LayerWeights::ffn_norm, &LayerWeights::w_gate, &LayerWeights::w_up,
                        &LayerWeights::w_down})
      EXPECT_TRUE(same(a.*member, b.*member)) << (a.*member).name;
  }
  EXPECT_EQ(gguf->vocab.pieces, bin->vocab.pieces);
  EXPECT_EQ(gguf->vocab.scores, bin->vocab.scores);
}

void expect_same_model(const LoadedModel& a, const LoadedModel& b) {
  EXPECT_EQ(a.config.dim, b.config.dim);
  EXPECT_EQ(a.config.hidden_dim, b.config.hidden_dim);
  EXPECT_EQ(a.config.n_layers, b.config.n_layers);
  EXPECT_EQ(a.config.n_heads, b.config.n_heads);
  EXPECT_EQ(a.config.n_kv_heads, b.config.n_kv_heads);
  EXPECT_EQ(a.config.vocab_size, b.config.vocab_size);
  EXPECT_EQ(a.config.context_length, b.config.context_length);
  EXPECT_EQ(a.config.rms_eps, b.config.rms_eps);
  EXPECT_EQ(a.config.rope_freq_base, b.config.rope_freq_base);
  EXPECT_EQ(a.weights.tied_output, b.weights.tied_output);
  EXPECT_EQ(a.vocab.pieces, b.vocab.pieces);
  EXPECT_EQ(a.vocab.scores, b.vocab.scores);
  EXPECT_EQ(a.vocab.types, b.vocab.types);
  EXPECT_EQ(a.vocab.bos_id, b.vocab.bos_id);
  EXPECT_EQ(a.vocab.eos_id, b.vocab.eos_id);
  const auto bytes_equal = [](const Tensor& x, const Tensor& y) {
    return x.shape == y.shape && x.type == y.type && std::ranges::equal(bytes_of(x), bytes_of(y));
  };
  EXPECT_TRUE(bytes_equal(a.weights.token_embd, b.weights.token_embd));
  EXPECT_TRUE(bytes_equal(a.weights.output, b.weights.output));
  for (size_t i = 0; i < a.weights.layers.size(); ++i) {
    EXPECT_TRUE(bytes_equal(a.weights.layers[i].wq, b.weights.layers[i].wq));
    EXPECT_TRUE(bytes_equal(a.weights.layers[i].w_down, b.weights.layers[i].w_down));
    EXPECT_TRUE(bytes_equal(a.weights.layers[i].ffn_norm, b.weights.layers[i].ffn_norm));
  }
}

TEST(Gguf, Llama2cCheckpointConvertsAndLoadsBack) {
  ScratchDir dir;
  const auto bin = load_model(source_path("models/stories260K.bin"), source_path("models/tok512.bin"));
  const std::string out = dir.path("stories260K.gguf");
  write_gguf_model(*bin, out);
  const auto back = load_model(out);
  expect_same_model(*bin, *back);
  EXPECT_FALSE(std::filesystem::exists(out + ".tmp"));

  // The keys llama.cpp needs to load it, as its own converter writes them.
  const GgufFile g(map_file(out));
  EXPECT_EQ(g.get_string("general.architecture"), "llama");
  EXPECT_EQ(g.get_u32("general.file_type"), 0u);
  EXPECT_EQ(g.get_u32("llama.rope.dimension_count"), 8u);
  EXPECT_EQ(g.get_string("tokenizer.ggml.model"), "llama");
  EXPECT_FALSE(g.get_bool("tokenizer.ggml.add_eos_token"));
  EXPECT_EQ(g.find_tensor("output.weight"), nullptr);  // tied: llama.cpp falls back to token_embd
  EXPECT_EQ(g.tensors().size(), 47u);
}

// llama.cpp's own converter is the reference for what a llama GGUF must hold: every key it
// wrote for stories260K is in lumen's conversion with the same type, and the same value
// except the context length (llama.cpp's converter defaulted it to 2048).
TEST(Gguf, ConversionHasEveryKeyLlamaCppsConverterWrote) {
  ScratchDir dir;
  const std::string out = dir.path("stories260K.gguf");
  write_gguf_model(*load_model(source_path("models/stories260K.bin"), source_path("models/tok512.bin")), out);
  const GgufFile ours(map_file(out));
  const GgufFile reference(map_file(source_path("models/stories260K.gguf")));
  for (const auto& [key, value] : reference.metadata()) {
    if (key == "general.name" || key.ends_with("seperator_token_id") || key.ends_with("padding_token_id")) continue;
    const GgufValue* mine = ours.find(key);
    ASSERT_NE(mine, nullptr) << key;
    EXPECT_EQ(mine->type, value.type) << key;
    EXPECT_EQ(mine->elem_type, value.elem_type) << key;
    if (key != "llama.context_length") {
      EXPECT_EQ(describe(*mine), describe(value)) << key;
      EXPECT_TRUE(std::ranges::equal(mine->bytes, value.bytes)) << key;
    }
  }
}

TEST(Gguf, ChatTemplateRoundTrips) {
  ScratchDir dir;
  auto m = load_model(source_path("models/stories260K.gguf"));
  EXPECT_EQ(m->vocab.chat_template, "");
  m->vocab.chat_template = "{% for message in messages %}{{ message['content'] }}{% endfor %}";
  const std::string out = dir.path("chat.gguf");
  write_gguf_model(*m, out);
  EXPECT_EQ(load_model(out)->vocab.chat_template, m->vocab.chat_template);
}

TEST(Gguf, GgufConvertsToItselfTensorForTensor) {
  ScratchDir dir;
  const auto official = load_model(source_path("models/stories260K.gguf"));
  const std::string out = dir.path("again.gguf");
  write_gguf_model(*official, out);
  expect_same_model(*official, *load_model(out));
}

TEST(Gguf, NeoXQueryAndKeyRowsArePermutedToAdjacentPairs) {
  ScratchDir dir;
  auto m = load_model(source_path("models/stories260K.gguf"));
  m->config.rope_style = RopeStyle::NeoX;  // pretend the rows are in Hugging Face's layout
  const std::string out = dir.path("neox.gguf");
  write_gguf_model(*m, out);
  const auto back = load_model(out);
  const int64_t hd = m->config.head_dim();
  const size_t row = row_bytes(DType::F32, m->config.dim);
  for (auto member : {&LayerWeights::wq, &LayerWeights::wk}) {
    const Tensor& before = m->weights.layers[0].*member;
    const Tensor& after = back->weights.layers[0].*member;
    for (int64_t h = 0; h < before.rows() / hd; ++h)
      for (int64_t i = 0; i < hd / 2; ++i) {
        EXPECT_EQ(std::memcmp(after.row(h * hd + 2 * i), before.row(h * hd + i), row), 0);
        EXPECT_EQ(std::memcmp(after.row(h * hd + 2 * i + 1), before.row(h * hd + hd / 2 + i), row), 0);
      }
  }
  EXPECT_EQ(std::memcmp(back->weights.layers[0].wv.data, m->weights.layers[0].wv.data, m->weights.layers[0].wv.bytes()), 0);
}

TEST(Gguf, WriterRejectsBytesThatDoNotMatchTheShape) {
  GgufWriter w;
  const std::vector<float> six(6);
  EXPECT_EQ(error_of([&] { w.add_tensor("m", DType::F32, {4, 2}, as_bytes(six)); }),
            "tensor 'm' has 24 bytes but F32 [4, 2] needs 32");
}

TEST(Gguf, FailedWriteLeavesNoFile) {
  ScratchDir dir;
  GgufWriter w;
  w.add_u32("k", 1);
  const std::string path = dir.path("missing-dir/out.gguf");
  EXPECT_NE(error_of([&] { w.write(path); }).find("cannot create"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(Gguf, ConvertCommandWritesALoadableFile) {
  ScratchDir dir;
  const std::string out = dir.path("cli.gguf");
  const auto r = test::run_lumen({"convert", "-m", source_path("models/stories260K.bin"), "-z",
                                  source_path("models/tok512.bin"), "-o", out});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("wrote " + out), std::string::npos) << r.err;
  EXPECT_EQ(load_model(out)->config.vocab_size, 512);
}

}  // namespace
}  // namespace lumen
