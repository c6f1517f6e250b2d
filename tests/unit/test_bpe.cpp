// Byte-level BPE on a hand-built vocabulary small enough to check by eye, the GPT-2
// pre-tokenizer on its own, and vocabularies the tokenizer must refuse.
#include <gtest/gtest.h>

#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "util/error.h"

namespace lumen {
namespace {

using Ids = std::vector<int32_t>;
constexpr const char* kG = "\xC4\xA0";  // Ġ, GPT-2's character for the space byte

// Ids: 0 h, 1 e, 2 l, 3 o, 4 Ġ, 5 w, 6 r, 7 d, 8 he, 9 ll, 10 hell, 11 hello, 12 Ġw,
// 13 <|end|> (control), 14 ÿ (the byte 0xFF), 15 el.
Vocab tiny_vocab() {
  Vocab v;
  v.model = "gpt2";
  v.pre = "gpt-2";
  v.pieces = {"h", "e", "l", "o", kG, "w", "r", "d", "he", "ll", "hell", "hello", std::string(kG) + "w", "<|end|>",
              "\xC3\xBF", "el"};
  v.types.assign(v.pieces.size(), TokenType::Normal);
  v.types[13] = TokenType::Control;
  v.scores.assign(v.pieces.size(), 0.0f);
  v.merges = {"h e", "l l", "he ll", "hell o", std::string(kG) + " w", "e l"};
  v.bos_id = v.eos_id = 13;
  v.unk_id = -1;
  v.add_bos = false;
  return v;
}

Ids encode(std::string_view text, Vocab v = tiny_vocab()) { return BpeTokenizer(std::move(v)).encode(text, false); }

TEST(Bpe, MergesBuildWholeWords) {
  EXPECT_EQ(encode("hello"), (Ids{11}));
  EXPECT_EQ(encode("hello world"), (Ids{11, 12, 3, 6, 2, 7}));
}

TEST(Bpe, TheBestRankedMergeGoesFirst) {
  // "hel": "h e" (rank 0) beats "e l" (rank 5); with the ranks swapped "el" wins.
  EXPECT_EQ(encode("hel"), (Ids{8, 2}));
  Vocab v = tiny_vocab();
  v.merges = {"e l", "h e"};
  EXPECT_EQ(encode("hel", v), (Ids{0, 15}));
}

TEST(Bpe, SpecialTokensAreFoundBeforeSplitting) {
  EXPECT_EQ(encode("hello<|end|>hello"), (Ids{11, 13, 11}));
}

TEST(Bpe, BytesOutsideTheVocabularyAreDroppedWithoutAnUnknownToken) {
  EXPECT_EQ(encode("hex"), (Ids{8}));
  Vocab v = tiny_vocab();
  v.unk_id = 7;
  EXPECT_EQ(encode("hex", v), (Ids{8, 7}));
}

TEST(Bpe, MalformedUtf8IsEncodedByteForByte) {
  const BpeTokenizer t(tiny_vocab());
  EXPECT_EQ(t.encode("\xFF", false), (Ids{14}));
  EXPECT_EQ(t.decode(Ids{14}), "\xFF");
}

TEST(Bpe, SpecialMarkersFollowTheVocabulary) {
  Vocab v = tiny_vocab();
  v.add_bos = v.add_eos = true;
  EXPECT_EQ(BpeTokenizer(v).encode("he", true), (Ids{13, 8, 13}));
  EXPECT_EQ(BpeTokenizer(v).encode("he", false), (Ids{8}));
}

TEST(Bpe, DecodeGivesTheBytesBack) {
  const BpeTokenizer t(tiny_vocab());
  EXPECT_EQ(t.decode(t.encode("hello world", false)), "hello world");
  EXPECT_EQ(t.decode_piece(-1, 12), " w");
  EXPECT_EQ(t.decode_piece(-1, 13), "<|end|>");  // a control token shows itself piece by piece
  EXPECT_EQ(t.decode(Ids{13, 11, 13}), "hello");  // ... but not in a decoded sequence
  EXPECT_THROW(t.decode_piece(-1, 99), Error);
}

TEST(PreTokenizer, Gpt2SplitsContractionsWordsNumbersAndSpaces) {
  const PreTokenizer pre({kGpt2Regex});
  using Words = std::vector<std::string_view>;
  EXPECT_EQ(pre.split("it's  ok 42!?\n"), (Words{"it", "'s", " ", " ok", " 42", "!?", "\n"}));
  EXPECT_EQ(pre.split(""), Words{});
}

TEST(PreTokenizer, RegexesApplyInTurnToEachPiece) {
  // StarCoder's: digits one by one, then GPT-2's on what is left.
  const PreTokenizer pre(*pre_tokenizer_regexes("starcoder"));
  using Words = std::vector<std::string_view>;
  EXPECT_EQ(pre.split("a 123"), (Words{"a", " ", "1", "2", "3"}));
}

TEST(PreTokenizer, NamesAndRegexesMapBothWays) {
  EXPECT_EQ(pre_tokenizer_name(*pre_tokenizer_regexes("mpt")), "gpt-2");
  EXPECT_EQ(pre_tokenizer_name(*pre_tokenizer_regexes("llama3")), "llama-bpe");
  EXPECT_FALSE(pre_tokenizer_regexes("no-such-pre"));
  EXPECT_FALSE(pre_tokenizer_name({"x"}));
  EXPECT_THROW(PreTokenizer({"(unclosed"}), Error);
}

TEST(Bpe, RejectsBadVocabularies) {
  Vocab v = tiny_vocab();
  v.pre = "no-such-pre";
  EXPECT_THROW(BpeTokenizer{v}, Error);
  v = tiny_vocab();
  v.merges.push_back("hello");
  EXPECT_THROW(BpeTokenizer{v}, Error);
  v = tiny_vocab();
  v.types.pop_back();
  EXPECT_THROW(BpeTokenizer{v}, Error);
  v = tiny_vocab();
  v.model = "llama";
  EXPECT_THROW(BpeTokenizer{v}, Error);
}

TEST(Tokenizer, FactoryPicksByModelAndNamesTheUnknownOne) {
  EXPECT_NE(dynamic_cast<const BpeTokenizer*>(make_tokenizer(tiny_vocab()).get()), nullptr);
  Vocab v = tiny_vocab();
  v.model = "unigram";
  try {
    make_tokenizer(v);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'unigram'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lumen
