// SentencePiece BPE on a hand-built vocabulary whose merges can be worked out on paper, and
// the llama2.c tokenizer reader on good, truncated and mismatched files.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "formats/llama2c_tokenizer.h"
#include "tokenizer/spm_tokenizer.h"
#include "util/error.h"

namespace lumen {
namespace {

using Ids = std::vector<int32_t>;

// The ids of tiny_vocab()'s pieces, in order; SP is "▁" (U+2581), SP_A "▁a", LT_S "<s" and so on.
enum : int32_t { UNK, BOS, EOS, NL, C3, A9, SP, A, B, C, AB, BC, SP_A, LT, GT, S, LT_S, AA, XY, AXY, CA,
                 ZERO, X, CAP_A, LT0, LT0X, LT0X0, LT0X0A };

Vocab tiny_vocab() {
  Vocab v;
  const auto add = [&](std::string piece, float score, TokenType type = TokenType::Normal) {
    v.pieces.push_back(std::move(piece));
    v.scores.push_back(score);
    v.types.push_back(type);
  };
  add("<unk>", 0, TokenType::Unknown);
  add("<s>", 0, TokenType::Control);
  add("</s>", 0, TokenType::Control);
  add("<0x0A>", 0, TokenType::Byte);
  add("<0xC3>", 0, TokenType::Byte);
  add("<0xA9>", 0, TokenType::Byte);
  add("\xE2\x96\x81", -1);
  add("a", -2);
  add("b", -3);
  add("c", -4);
  add("ab", -10);
  add("bc", -5);
  add("\xE2\x96\x81" "a", -20);
  add("<", -6);
  add(">", -6);
  add("s", -6);
  add("<s", -1);  // "<s" may merge, "<s>" (control) may not
  add("aa", -1);
  add("xy", 0, TokenType::UserDefined);
  add("axy", 0);  // never formed: the user-defined "xy" is frozen
  add("ca", -0.5f, TokenType::Unused);
  add("0", -6);
  add("x", -6);
  add("A", -6);
  add("<0", -1);
  add("<0x", -1);
  add("<0x0", -1);
  add("<0x0A", -1);  // one merge short of the byte piece "<0x0A>"
  return v;
}

Ids encode(std::string_view text, bool bos = false) { return SpmTokenizer(tiny_vocab()).encode(text, bos); }

TEST(SpmTokenizer, EmptyTextIsNothingOrBos) {
  EXPECT_EQ(encode(""), Ids{});
  EXPECT_EQ(encode("", true), Ids{BOS});
}

TEST(SpmTokenizer, HighestScoreMergesFirst) {
  // ▁ a b c: "bc" (-5) beats "ab" (-10) and "▁a" (-20); then "▁a" is the only pair left.
  EXPECT_EQ(encode("abc", true), (Ids{BOS, SP_A, BC}));
  // ▁ a b: "ab" (-10) beats "▁a" (-20); "▁ab" is not a piece.
  EXPECT_EQ(encode("ab"), (Ids{SP, AB}));
}

TEST(SpmTokenizer, LeftmostPairWinsATie) {
  // ▁ a a a: both "aa" pairs score -1; the left one merges, leaving "a" alone at the end.
  EXPECT_EQ(encode("aaa"), (Ids{SP, AA, A}));
  EXPECT_EQ(encode("aaaa"), (Ids{SP, AA, AA}));
}

TEST(SpmTokenizer, SpacesBecomeSentencePieceSpaces) {
  // The dummy prefix and each space become ▁: ▁ a ▁ ▁ a, where "▁a" forms twice.
  EXPECT_EQ(encode("a  a"), (Ids{SP_A, SP, SP_A}));
  EXPECT_EQ(encode(" "), (Ids{SP, SP}));
}

TEST(SpmTokenizer, UnknownCharactersFallBackToBytes) {
  EXPECT_EQ(encode("\xC3\xA9"), (Ids{SP, C3, A9}));  // é, not a piece
  EXPECT_EQ(encode("\n"), (Ids{SP, NL}));
  EXPECT_EQ(encode("z"), (Ids{SP, UNK}));  // no <0x7A> piece either
}

TEST(SpmTokenizer, ControlAndBytePiecesAreNeverMergedFromText) {
  EXPECT_EQ(encode("<s>"), (Ids{SP, LT_S, GT}));
  EXPECT_EQ(encode("<0x0A>"), (Ids{SP, LT0X0A, GT}));
}

TEST(SpmTokenizer, UserDefinedPiecesAreFrozen) {
  // "axy" is a piece, but "xy" is user-defined and so never merges with its neighbour.
  EXPECT_EQ(encode("axy"), (Ids{SP_A, XY}));
}

TEST(SpmTokenizer, UnusedPiecesAreSplitBackIntoTheirParts) {
  // ▁ b c a: "ca" (-0.5, unused) merges before "bc" (-5); the final "ca" is emitted as c a.
  EXPECT_EQ(encode("bca"), (Ids{SP, B, C, A}));
}

TEST(SpmTokenizer, MalformedUtf8BecomesReplacementCharacters) {
  // Each bad byte is U+FFFD (EF BF BD), which falls back to bytes; only <0xC3>, <0xA9> exist.
  EXPECT_EQ(encode("\xFF"), (Ids{SP, UNK, UNK, UNK}));
  EXPECT_EQ(encode("a\xC3"), (Ids{SP_A, UNK, UNK, UNK}));
}

TEST(SpmTokenizer, DecodePiece) {
  const SpmTokenizer t(tiny_vocab());
  EXPECT_EQ(t.decode_piece(BOS, SP_A), "a");  // the dummy prefix after BOS
  EXPECT_EQ(t.decode_piece(A, SP_A), " a");
  EXPECT_EQ(t.decode_piece(-1, NL), "\n");
  EXPECT_EQ(t.decode_piece(BOS, NL), "\n");
  EXPECT_EQ(t.decode_piece(-1, BOS), "<s>");
  EXPECT_THROW(t.decode_piece(-1, 1000), Error);
  EXPECT_THROW(t.decode_piece(-1, -1), Error);
}

TEST(SpmTokenizer, DecodeGivesTheTextBack) {
  const SpmTokenizer t(tiny_vocab());
  for (std::string text : {"abc", " abc", "a  a\n", "\xC3\xA9" "aaa bca", "<s>x", "  ", "axy <0x0A>"}) {
    EXPECT_EQ(t.decode(t.encode(text, true)), text) << text;
  }
  const Ids only_spaces{SP, SP};
  EXPECT_EQ(t.decode(only_spaces), " ");  // as SentencePiece: only the first ▁ is the prefix
}

TEST(SpmTokenizer, RejectsInconsistentVocab) {
  Vocab v = tiny_vocab();
  v.scores.pop_back();
  EXPECT_THROW(SpmTokenizer{v}, Error);
  v = tiny_vocab();
  v.unk_id = 1000;
  EXPECT_THROW(SpmTokenizer{v}, Error);
  v = tiny_vocab();
  v.model = "gpt2";
  EXPECT_THROW(SpmTokenizer{v}, Error);
}

// --- llama2.c tokenizer files ---

struct Token {
  std::string piece;
  float score;
};

std::string tokenizer_bytes(int32_t max_len, const std::vector<Token>& tokens) {
  std::string out;
  const auto put = [&](const auto& v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); };
  put(max_len);
  for (const auto& t : tokens) {
    put(t.score);
    put(int32_t(t.piece.size()));
    out += t.piece;
  }
  return out;
}

std::string write_temp(const std::string& name, const std::string& bytes) {
  const std::string path = ::testing::TempDir() + "lumen_test_tokenizer_" + name + ".bin";
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

// As llama2.c's exporter writes them: BOS/EOS wrapped in newlines, spaces as ' '.
const std::vector<Token> kFileTokens = {
    {"<unk>", 0}, {"\n<s>\n", 0}, {"\n</s>\n", 0}, {"<0x0A>", 0}, {" a", -1.5f}, {"b c", -2}};

// The error message of `f()`, which must throw a one-line lumen::Error.
template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    return message;
  }
  ADD_FAILURE() << "no lumen::Error";
  return "";
}

TEST(Llama2cTokenizer, ReadsPiecesScoresAndTypes) {
  const std::string path = write_temp("good", tokenizer_bytes(6, kFileTokens));
  for (int32_t size : {-1, 6}) {
    const Vocab v = read_llama2c_tokenizer(path, size);
    EXPECT_EQ(v.pieces, (std::vector<std::string>{"<unk>", "<s>", "</s>", "<0x0A>", "\xE2\x96\x81" "a",
                                                  "b\xE2\x96\x81" "c"}));
    EXPECT_EQ(v.scores, (std::vector<float>{0, 0, 0, 0, -1.5f, -2}));
    EXPECT_EQ(v.types, (std::vector<TokenType>{TokenType::Unknown, TokenType::Control, TokenType::Control,
                                               TokenType::Byte, TokenType::Normal, TokenType::Normal}));
    EXPECT_EQ(v.unk_id, 0);
    EXPECT_EQ(v.bos_id, 1);
    EXPECT_EQ(v.eos_id, 2);
  }
}

TEST(Llama2cTokenizer, TruncatedFilesFail) {
  const std::string bytes = tokenizer_bytes(6, kFileTokens);
  // Token boundaries: after the header (4), then 8 + length per token.
  std::vector<size_t> boundaries{4};
  for (const auto& t : kFileTokens) boundaries.push_back(boundaries.back() + 8 + t.piece.size());
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    const std::string path = write_temp("cut", bytes.substr(0, cut));
    const std::string message = error_of([&] { read_llama2c_tokenizer(path, 6); });
    EXPECT_NE(message.find(path), std::string::npos) << message;
    // Read to the end, a cut between tokens is a smaller vocabulary; one inside a token, or
    // one leaving no room for unk, BOS and EOS, is an error.
    const auto boundary = std::find(boundaries.begin(), boundaries.end(), cut);
    const auto whole_tokens = int32_t(boundary - boundaries.begin());
    if (boundary != boundaries.end() && whole_tokens >= 3)
      EXPECT_EQ(read_llama2c_tokenizer(path, -1).size(), whole_tokens);
    else
      error_of([&] { read_llama2c_tokenizer(path, -1); });
  }
}

TEST(Llama2cTokenizer, VocabularySizeMismatchFailsBothWays) {
  const std::string path = write_temp("mismatch", tokenizer_bytes(6, kFileTokens));
  EXPECT_NE(error_of([&] { read_llama2c_tokenizer(path, 5); }).find("more than 5 tokens"), std::string::npos);
  EXPECT_NE(error_of([&] { read_llama2c_tokenizer(path, 7); }).find("holds only 6 tokens"), std::string::npos);
  error_of([&] { read_llama2c_tokenizer(path, 2); });
}

TEST(Llama2cTokenizer, BadLengthsFail) {
  std::string bytes = tokenizer_bytes(6, kFileTokens);
  const size_t len_at = 4 + 4;  // token 0's length
  for (int32_t bad : {-1, 7, 1 << 30}) {
    std::memcpy(bytes.data() + len_at, &bad, 4);
    const std::string path = write_temp("badlen", bytes);
    EXPECT_NE(error_of([&] { read_llama2c_tokenizer(path, -1); }).find("token 0"), std::string::npos);
  }
  error_of([&] { read_llama2c_tokenizer(write_temp("badmax", tokenizer_bytes(0, kFileTokens)), -1); });
  error_of([&] { read_llama2c_tokenizer(write_temp("short", tokenizer_bytes(6, kFileTokens)) + ".missing", -1); });
}

// --- the real Llama 2 tokenizer ---

SpmTokenizer llama2_tokenizer() {
  return SpmTokenizer(read_llama2c_tokenizer(std::string(LUMEN_SOURCE_DIR) + "/models/tokenizer.bin", 32000));
}

TEST(SpmTokenizer, Llama2KnownIds) {
  const SpmTokenizer t = llama2_tokenizer();
  EXPECT_EQ(t.encode("Hello world", true), (Ids{1, 15043, 3186}));
  EXPECT_EQ(t.encode("\n", false), (Ids{29871, 13}));
  EXPECT_EQ(t.decode(t.encode("  Hello\n\tworld ", true)), "  Hello\n\tworld ");
}

TEST(SpmTokenizer, Llama2LongTextIsFast) {
  const SpmTokenizer t = llama2_tokenizer();
  std::string text;
  while (text.size() < 100'000) text += "The quick brown fox jumps over the lazy dog; 世界 🤗 ";
  const std::string long_word(100'000, 'a');
  for (const std::string& s : {text, long_word}) {
    const auto start = std::chrono::steady_clock::now();
    const auto ids = t.encode(s, false);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    EXPECT_LT(seconds, 1.0);  // milliseconds in a release build; quadratic merging takes minutes
    EXPECT_EQ(t.decode(ids), s);
  }
}

}  // namespace
}  // namespace lumen
