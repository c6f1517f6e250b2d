// BERT and the encoder–decoder Transformer: every bad input — a config.json missing a field or
// contradicting the tensors, an unknown pooling, an empty text, a text longer than the model's
// positions — is a one-line lumen::Error naming the problem. (Their numbers are held to PyTorch
// by tests/oracle/test_encoders_torch.py.)
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_runner.h"
#include "formats/bert_files.h"
#include "formats/seq2seq_files.h"
#include "model_file_helpers.h"
#include "model_folder_writer.h"
#include "models/bert.h"
#include "models/encoder_decoder.h"
#include "runtime/translate_beams.h"
#include "test_paths.h"

namespace lumen::test {
namespace {

using nlohmann::json;

// BERT: hidden 6, 3 heads, FFN 10, 1 layer, 4 positions, the 12-token bert-tiny vocabulary.
json bert_config() {
  return {{"architectures", {"BertModel"}}, {"hidden_size", 6}, {"num_hidden_layers", 1},
          {"num_attention_heads", 3}, {"intermediate_size", 10}, {"vocab_size", 12},
          {"max_position_embeddings", 4}, {"type_vocab_size", 2}, {"layer_norm_eps", 1e-12}, {"hidden_act", "gelu"}};
}

Shapes bert_tensors(int64_t dim = 6) {
  Shapes t = {{"embeddings.word_embeddings.weight", {12, dim}}, {"embeddings.position_embeddings.weight", {4, dim}},
              {"embeddings.token_type_embeddings.weight", {2, dim}}, {"embeddings.LayerNorm.weight", {dim}},
              {"embeddings.LayerNorm.bias", {dim}}};
  const std::string p = "encoder.layer.0.";
  for (const char* m : {"attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"}) {
    t.push_back({p + m + ".weight", {dim, dim}});
    t.push_back({p + m + ".bias", {dim}});
  }
  t.push_back({p + "intermediate.dense.weight", {10, dim}});
  t.push_back({p + "intermediate.dense.bias", {10}});
  t.push_back({p + "output.dense.weight", {dim, 10}});
  t.push_back({p + "output.dense.bias", {dim}});
  for (const char* m : {"attention.output.LayerNorm", "output.LayerNorm"}) {
    t.push_back({p + m + ".weight", {dim}});
    t.push_back({p + m + ".bias", {dim}});
  }
  return t;
}

std::string bert_folder(const ScratchDir& dir, const json& config, const Shapes& tensors) {
  const std::string d = dir.path("bert");
  std::filesystem::create_directories(d);
  write_json(d + "/config.json", config);
  write_safetensors(d + "/model.safetensors", tensors);
  std::filesystem::copy_file(source_path("tests/data/tokenizers/bert-tiny/tokenizer.json"), d + "/tokenizer.json");
  return d;
}

TEST(Bert, LoadsAndEmbedsUnitVectors) {
  ScratchDir dir;
  const auto model = load_bert(bert_folder(dir, bert_config(), bert_tensors()));
  ThreadPool pool(2);
  const std::vector<std::string> texts = {"hello", "running"};  // 3 and 4 tokens
  const auto v = bert_embed_texts(*model, texts, Pooling::Mean, true, pool);
  ASSERT_EQ(v.size(), 12u);
  for (int t = 0; t < 2; ++t) {
    double ss = 0;
    for (int d = 0; d < 6; ++d) ss += double(v[t * 6 + d]) * v[t * 6 + d];
    EXPECT_NEAR(ss, 1.0, 1e-5);
  }
}

TEST(Bert, ConfigMissingAField) {
  ScratchDir dir;
  json c = bert_config();
  c.erase("num_attention_heads");
  EXPECT_NE(error_of([&] { load_bert(bert_folder(dir, c, bert_tensors())); }).find("'num_attention_heads'"),
            std::string::npos);
}

TEST(Bert, ConfigContradictsTensorShapes) {
  ScratchDir dir;
  json c = bert_config();
  c["hidden_size"] = 9;  // the tensors are 6 wide
  EXPECT_NE(error_of([&] { load_bert(bert_folder(dir, c, bert_tensors())); }).find("embeddings.word_embeddings.weight"),
            std::string::npos);
}

TEST(Bert, HeadsThatDoNotDivideTheWidth) {
  ScratchDir dir;
  json c = bert_config();
  c["num_attention_heads"] = 4;
  EXPECT_NE(error_of([&] { load_bert(bert_folder(dir, c, bert_tensors())); }).find("num_attention_heads"),
            std::string::npos);
}

TEST(Bert, MissingTensorIsNamed) {
  ScratchDir dir;
  Shapes t = bert_tensors();
  t.pop_back();  // encoder.layer.0.output.LayerNorm.bias
  EXPECT_NE(error_of([&] { load_bert(bert_folder(dir, bert_config(), t)); }).find("output.LayerNorm.bias"),
            std::string::npos);
}

TEST(Bert, UnknownPooling) {
  EXPECT_NE(error_of([] { parse_pooling("max"); }).find("'max'"), std::string::npos);
  ScratchDir dir;
  const auto r = run_lumen({"embed", "-m", bert_folder(dir, bert_config(), bert_tensors()), "-p", "hello",
                            "--pooling", "max"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "lumen: error: unknown pooling 'max' (known: cls, mean)\n");
}

TEST(Bert, EmptyText) {
  ScratchDir dir;
  const auto model = load_bert(bert_folder(dir, bert_config(), bert_tensors()));
  ThreadPool pool(1);
  const std::vector<std::string> texts = {"hello", ""};
  EXPECT_NE(error_of([&] { bert_embed_texts(*model, texts, Pooling::Cls, false, pool); }).find("text 2 is empty"),
            std::string::npos);
}

TEST(Bert, TextLongerThanThePositions) {
  ScratchDir dir;
  const auto model = load_bert(bert_folder(dir, bert_config(), bert_tensors()));
  ThreadPool pool(1);
  const std::vector<std::string> texts = {"hello hello hello"};  // [CLS] + 3 + [SEP] = 5 > 4 positions
  EXPECT_NE(error_of([&] { bert_embed_texts(*model, texts, Pooling::Cls, false, pool); }).find("at most 4"),
            std::string::npos);
}

TEST(Bert, NotABertModel) {
  ScratchDir dir;
  json c = bert_config();
  c["architectures"] = {"GPT2LMHeadModel"};
  EXPECT_NE(error_of([&] { load_bert(bert_folder(dir, c, bert_tensors())); }).find("not a BERT model"),
            std::string::npos);
}

// Encoder–decoder: d_model 6, 3 heads, 1+1 layers, FFN 8, max_len 4, vocabularies of 6 and 5.
json seq2seq_config() {
  return {{"architectures", {"TransformerSeq2Seq"}}, {"d_model", 6}, {"nhead", 3}, {"num_encoder_layers", 1},
          {"num_decoder_layers", 1}, {"dim_feedforward", 8}, {"src_vocab_size", 6}, {"tgt_vocab_size", 5},
          {"max_len", 4}, {"pad_id", 0}, {"bos_id", 1}, {"eos_id", 2}, {"unk_id", 3}};
}

Shapes seq2seq_tensors(int64_t d = 6) {
  Shapes t = {{"src_embed.weight", {6, d}}, {"tgt_embed.weight", {5, d}}, {"generator.weight", {5, d}},
              {"generator.bias", {5}}};
  auto attention = [&](const std::string& p) {
    t.push_back({p + "in_proj_weight", {3 * d, d}});
    t.push_back({p + "in_proj_bias", {3 * d}});
    t.push_back({p + "out_proj.weight", {d, d}});
    t.push_back({p + "out_proj.bias", {d}});
  };
  auto norm = [&](const std::string& p) {
    t.push_back({p + ".weight", {d}});
    t.push_back({p + ".bias", {d}});
  };
  auto ffn = [&](const std::string& p) {
    t.push_back({p + "linear1.weight", {8, d}});
    t.push_back({p + "linear1.bias", {8}});
    t.push_back({p + "linear2.weight", {d, 8}});
    t.push_back({p + "linear2.bias", {d}});
  };
  attention("encoder.layers.0.self_attn.");
  ffn("encoder.layers.0.");
  norm("encoder.layers.0.norm1");
  norm("encoder.layers.0.norm2");
  norm("encoder.norm");
  attention("decoder.layers.0.self_attn.");
  attention("decoder.layers.0.multihead_attn.");
  ffn("decoder.layers.0.");
  for (const char* n : {"decoder.layers.0.norm1", "decoder.layers.0.norm2", "decoder.layers.0.norm3", "decoder.norm"})
    norm(n);
  return t;
}

std::string seq2seq_folder(const ScratchDir& dir, const json& config, const Shapes& tensors, uint32_t seed = 0) {
  const std::string d = dir.path("seq2seq");
  std::filesystem::create_directories(d);
  write_json(d + "/config.json", config);
  write_safetensors(d + "/model.safetensors", tensors, seed);
  std::ofstream(d + "/src_vocab.txt") << "<pad>\n<s>\n</s>\n<unk>\nhello\nworld\n";
  std::ofstream(d + "/tgt_vocab.txt") << "<pad>\n<s>\n</s>\n<unk>\nhallo\n";
  return d;
}

TEST(Seq2Seq, TranslatesWithinMaxLen) {
  ScratchDir dir;
  const auto model = load_seq2seq(seq2seq_folder(dir, seq2seq_config(), seq2seq_tensors()));
  ThreadPool pool(2);
  Translator t(*model, pool);
  const auto source = t.source_ids("hello nonsense");
  EXPECT_EQ(source, (std::vector<int32_t>{4, 3, 2}));  // unknown word -> <unk>, then </s>
  std::vector<float> logits;
  const auto ids = t.translate(source, 4, &logits);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(logits.size(), ids.size() * 5);
}

TEST(Seq2Seq, ConfigMissingAField) {
  ScratchDir dir;
  json c = seq2seq_config();
  c.erase("dim_feedforward");
  EXPECT_NE(error_of([&] { load_seq2seq(seq2seq_folder(dir, c, seq2seq_tensors())); }).find("'dim_feedforward'"),
            std::string::npos);
}

TEST(Seq2Seq, ConfigContradictsTensorShapes) {
  ScratchDir dir;
  json c = seq2seq_config();
  c["src_vocab_size"] = 7;
  EXPECT_NE(error_of([&] { load_seq2seq(seq2seq_folder(dir, c, seq2seq_tensors())); }).find("src_embed.weight"),
            std::string::npos);
}

TEST(Seq2Seq, VocabularyOfTheWrongSize) {
  ScratchDir dir;
  const std::string d = seq2seq_folder(dir, seq2seq_config(), seq2seq_tensors());
  std::ofstream(d + "/tgt_vocab.txt") << "<pad>\n<s>\n</s>\n<unk>\n";
  EXPECT_NE(error_of([&] { load_seq2seq(d); }).find("tgt_vocab_size"), std::string::npos);
}

TEST(Seq2Seq, EmptyAndOverLongSources) {
  ScratchDir dir;
  const auto model = load_seq2seq(seq2seq_folder(dir, seq2seq_config(), seq2seq_tensors()));
  ThreadPool pool(1);
  Translator t(*model, pool);
  EXPECT_NE(error_of([&] { t.source_ids("  "); }).find("no words"), std::string::npos);
  const auto long_source = t.source_ids("hello world hello world");  // 5 tokens with </s> > max_len 4
  EXPECT_NE(error_of([&] { t.translate(long_source, 2, nullptr); }).find("max_len = 4"), std::string::npos);
  EXPECT_NE(error_of([&] { t.translate(t.source_ids("hello"), 5, nullptr); }).find("1..4"), std::string::npos);
}

// One beam is greedy decoding token for token (translate_beams drives the Translator's rows as
// greedy decoding drives one): the same ids, ending where greedy ends, with the same tokens run.
// Seed 1's weights make greedy decoding end with EOS for some sources and run to the budget for
// others, with more than one token id.
TEST(Seq2Seq, OneBeamIsGreedy) {
  ScratchDir dir;
  json c = seq2seq_config();
  c["max_len"] = 8;
  const auto model = load_seq2seq(seq2seq_folder(dir, c, seq2seq_tensors(), 1));
  ThreadPool pool(2);
  Translator t(*model, pool);
  int32_t ended = 0, full = 0;
  for (const char* text : {"hello", "world hello", "hello world world"})
    for (int32_t n : {1, 3, 8}) {
      const auto source = t.source_ids(text);
      const std::vector<int32_t> greedy = t.translate(source, n, nullptr);
      const TranslationBeams beams = translate_beams(t, source, 1, 1.0, n);
      ASSERT_EQ(beams.best.size(), 1u);
      std::vector<int32_t> ids = beams.best[0].tokens;
      if (beams.best[0].ended) ids.push_back(model->config.eos_id);
      EXPECT_EQ(ids, greedy) << text << ", " << n << " tokens";
      EXPECT_EQ(beams.beam_tokens, int32_t(greedy.size()) - 1) << "every token but the last is run after BOS";
      ended += greedy.back() == model->config.eos_id;
      full += n == 8 && int32_t(greedy.size()) == n;
    }
  EXPECT_GT(ended, 0);
  EXPECT_GT(full, 0);
}

// `lumen translate` as a user meets it (here rather than in test_cli.cpp, beside the folder
// builder): --beams 1 is greedy decoding, byte for byte; beam search prints a translation and its
// score; bad beam options, with nothing else wrong, are one-line errors.
TEST(Seq2Seq, TranslateCommandWithBeams) {
  ScratchDir dir;
  const std::string model = seq2seq_folder(dir, seq2seq_config(), seq2seq_tensors(), 1);
  const std::vector<std::string> args{"translate", "-m", model, "-p", "hello world", "-n", "4"};
  const CliResult greedy = run_lumen(args);
  ASSERT_EQ(greedy.exit_code, 0) << greedy.err;
  auto with = [&](std::vector<std::string> extra) {
    extra.insert(extra.begin(), args.begin(), args.end());
    return run_lumen(extra);
  };
  const CliResult one = with({"--beams", "1"});
  EXPECT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(one.out, greedy.out);
  EXPECT_EQ(one.err, greedy.err);
  const CliResult three = with({"--beams", "3", "--length-penalty", "0.5"});
  ASSERT_EQ(three.exit_code, 0) << three.err;
  EXPECT_EQ(std::count(three.out.begin(), three.out.end(), '\n'), 1) << three.out;
  EXPECT_NE(three.err.find("best of 3 beams scores"), std::string::npos) << three.err;

  const std::vector<std::vector<std::string>> bad{
      {"--beams", "0"}, {"--beams", "65"}, {"--beams", "-2"}, {"--length-penalty", "2"},
      {"--beams", "2", "--logits-out", dir.path("logits.npy")}};
  for (const auto& c : bad) {
    const CliResult r = with(c);
    EXPECT_EQ(r.exit_code, 1) << c[0] << " " << c[1];
    EXPECT_EQ(r.out, "");
    EXPECT_TRUE(r.err.starts_with("lumen: error: ")) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
    EXPECT_NE(r.err.find(c.size() == 4 ? "--logits-out" : c[0]), std::string::npos) << r.err;
  }
}

}  // namespace
}  // namespace lumen::test
