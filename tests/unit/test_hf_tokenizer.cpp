// Hugging Face tokenizer.json (+ tokenizer_config.json) read into a Vocab: hand-written
// fixtures in tests/data/tokenizers, and malformed files that must fail naming what is wrong.
#include <gtest/gtest.h>

#include <fstream>

#include "formats/hf_tokenizer.h"
#include "formats/vocab_file.h"
#include "model_file_helpers.h"
#include "test_paths.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace lumen {
namespace {

using Ids = std::vector<int32_t>;
using nlohmann::json;
using test::ScratchDir;
using test::source_path;

TEST(HfTokenizer, ReadsWordPieceInLlamaCppSpelling) {
  const Vocab v = read_hf_tokenizer(source_path("tests/data/tokenizers/bert-tiny"));
  EXPECT_EQ(v.model, "bert");
  EXPECT_EQ(v.pieces[5], "\xE2\x96\x81un");  // a word start gains ▁
  EXPECT_EQ(v.pieces[6], "want");             // a continuation loses ##
  EXPECT_EQ(v.pieces[2], "[CLS]");
  EXPECT_EQ(v.types[2], TokenType::Control);
  EXPECT_EQ(v.unk_id, 1);
  EXPECT_EQ(v.bos_id, 2);
  EXPECT_EQ(v.eos_id, 3);
  const auto t = make_tokenizer(v);
  EXPECT_EQ(t->encode("Unwanted, running", true), (Ids{2, 5, 6, 7, 10, 8, 9, 3}));
  EXPECT_EQ(t->decode(Ids{2, 5, 6, 7, 8, 9, 3}), "unwanted running");
}

TEST(HfTokenizer, ReadsByteLevelBpeAndItsConfig) {
  const Vocab v = load_vocab(source_path("tests/data/tokenizers/gpt2-tiny/tokenizer.json"));
  EXPECT_EQ(v.model, "gpt2");
  EXPECT_EQ(v.pre, "gpt-2");
  EXPECT_EQ(v.merges[2], "h e");  // the ["h", "e"] spelling
  EXPECT_EQ(v.types[9], TokenType::Control);
  EXPECT_EQ(v.bos_id, 9);
  EXPECT_EQ(v.eos_id, 9);
  EXPECT_FALSE(v.add_bos);
  EXPECT_EQ(v.chat_template, "{% for m in messages %}{{ m.content }}<|endoftext|>{% endfor %}");
  const auto t = make_tokenizer(v);
  // " there": Ġt (rank 1), then he (2) before Ġth (3) can form, then re (5).
  EXPECT_EQ(t->encode("hi there", true), (Ids{6, 7, 10, 12}));
  EXPECT_EQ(t->encode("<|endoftext|>hi", true), (Ids{9, 6}));
  EXPECT_EQ(t->decode(Ids{6, 7, 10, 12}), "hi there");
}

// The error hf_tokenizer_vocab gives for `tok`, or "" if it reads.
std::string error_of(const json& tok) {
  try {
    hf_tokenizer_vocab(tok, nullptr);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

json tiny_bpe() {
  return json::parse(R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]},
                         "pre_tokenizer": {"type": "ByteLevel", "use_regex": true}})");
}

TEST(HfTokenizer, BadFilesNameWhatIsWrong) {
  EXPECT_EQ(error_of(tiny_bpe()), "");
  EXPECT_NE(error_of(json::object()).find("'model'"), std::string::npos);
  json t = tiny_bpe();
  t["model"].erase("merges");
  EXPECT_NE(error_of(t).find("'merges'"), std::string::npos) << error_of(t);
  t = tiny_bpe();
  t["model"]["vocab"]["c"] = 5;
  EXPECT_NE(error_of(t).find("gaps"), std::string::npos) << error_of(t);
  t = tiny_bpe();
  t["model"]["type"] = "Unigram";
  EXPECT_NE(error_of(t).find("'Unigram'"), std::string::npos) << error_of(t);
  t = tiny_bpe();
  t["pre_tokenizer"] = json::parse(R"({"type": "Sequence", "pretokenizers": [
      {"type": "Split", "pattern": {"Regex": "\\d+"}}, {"type": "ByteLevel", "use_regex": false}]})");
  EXPECT_NE(error_of(t).find("not one lumen knows"), std::string::npos) << error_of(t);
  t = tiny_bpe();
  t["model"]["vocab"]["a"] = "zero";
  EXPECT_NE(error_of(t).find("model.vocab['a']"), std::string::npos) << error_of(t);
  EXPECT_THROW(read_hf_tokenizer(source_path("tests/data/tokenizers/no-such-dir")), Error);
}

// A pre_tokenizer nested 200000 deep overflowed the stack (the value is
// copied and walked recursively).
TEST(HfTokenizer, DeeplyNestedJsonIsRefused) {
  ScratchDir dir;
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  std::ofstream(dir.path("tokenizer.json")) << R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                                                  "pre_tokenizer": )" << deep << "}";
  try {
    read_hf_tokenizer(dir.path("tokenizer.json"));
    ADD_FAILURE() << "read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nested more than 128 levels deep"), std::string::npos) << e.what();
  }
}

// BertProcessing's cls/sep were read as [0] unchecked, past the end of an
// empty array.
TEST(HfTokenizer, PostProcessorWithoutItsTokens) {
  json t = tiny_bpe();
  t["post_processor"] = {{"type", "BertProcessing"}, {"cls", json::array()}, {"sep", {"b", 1}}};
  EXPECT_NE(error_of(t).find("post_processor.cls is not a [token, id] pair"), std::string::npos) << error_of(t);
  t["post_processor"]["cls"] = "a";
  EXPECT_NE(error_of(t).find("post_processor.cls is not a [token, id] pair"), std::string::npos) << error_of(t);
}

}  // namespace
}  // namespace lumen
