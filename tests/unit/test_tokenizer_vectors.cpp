// llama.cpp's tokenizer test vectors: for each vocab-only GGUF, `.inp` holds strings (each
// followed by "\n__ggml_vocab_test__\n") and `.out` one line per string with the ids Hugging
// Face's tokenizer gave, without special tokens. lumen must give the same ids, and decode them
// back to the string where the tokenizer is lossless.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "formats/gguf.h"
#include "formats/gguf_tokenizer.h"
#include "formats/vocab_file.h"
#include "tensor/mapped_file.h"
#include "test_paths.h"
#include "tokenizer/tokenizer.h"

namespace lumen {
namespace {

using test::source_path;

std::string read_all(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

std::vector<Case> read_cases(const std::filesystem::path& gguf) {
  const std::string inp = read_all(gguf.string() + ".inp"), out = read_all(gguf.string() + ".out");
  constexpr std::string_view kSeparator = "\n__ggml_vocab_test__\n";
  std::vector<Case> cases;
  for (size_t pos = 0; pos < inp.size();) {
    const size_t end = inp.find(kSeparator, pos);
    if (end == std::string::npos) break;
    cases.push_back({inp.substr(pos, end - pos), {}});
    pos = end + kSeparator.size();
  }
  std::istringstream lines(out);
  std::string line;
  for (Case& c : cases) {
    EXPECT_TRUE(std::getline(lines, line)) << gguf << ": fewer .out lines than .inp strings";
    std::istringstream ids(line);
    for (int32_t id; ids >> id;) c.ids.push_back(id);
  }
  return cases;
}

// `dir`/ggml-vocab-`name`.gguf against its vectors; the count of strings checked.
size_t check_vectors(const std::filesystem::path& dir, const std::string& name, bool round_trips) {
  const std::filesystem::path gguf = dir / ("ggml-vocab-" + name + ".gguf");
  const auto tokenizer = make_tokenizer(load_vocab(gguf.string()));
  const std::vector<Case> cases = read_cases(gguf);
  for (const Case& c : cases) {
    EXPECT_EQ(tokenizer->encode(c.text, false), c.ids) << name << ": '" << c.text << "'";
    if (round_trips) {
      EXPECT_EQ(tokenizer->decode(c.ids), c.text) << name;
    }
  }
  return cases.size();
}

const std::filesystem::path kProjectVocabs = source_path("tests/data/ggml-vocab");

TEST(TokenizerVectors, Gpt2) { EXPECT_EQ(check_vectors(kProjectVocabs, "gpt-2", true), 46u); }
TEST(TokenizerVectors, BertBge) { EXPECT_EQ(check_vectors(kProjectVocabs, "bert-bge", false), 46u); }
TEST(TokenizerVectors, LlamaSpm) { EXPECT_EQ(check_vectors(kProjectVocabs, "llama-spm", false), 46u); }
TEST(TokenizerVectors, Phi3) { EXPECT_EQ(check_vectors(kProjectVocabs, "phi-3", false), 46u); }

// The other byte-level BPE pre-tokenizers, from the team's shared folder when it is present.
class SharedVectors : public testing::TestWithParam<const char*> {};

TEST_P(SharedVectors, MatchHuggingFace) {
  const std::filesystem::path shared = source_path("../shared/models/ggml-vocab");
  if (!std::filesystem::exists(shared / (std::string("ggml-vocab-") + GetParam() + ".gguf")))
    GTEST_SKIP() << "no " << shared;
  EXPECT_EQ(check_vectors(shared, GetParam(), true), 46u);
}

INSTANTIATE_TEST_SUITE_P(Bpe, SharedVectors,
                         testing::Values("falcon", "mpt", "starcoder", "refact", "deepseek-coder", "deepseek-llm"),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::erase(name, '-');
                           return name;
                         });

}  // namespace
}  // namespace lumen
