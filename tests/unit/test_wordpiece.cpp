// BERT's basic tokenizer and WordPiece on a hand-built vocabulary, in llama.cpp's spelling
// (▁ before a word's first piece, continuations bare).
#include <gtest/gtest.h>

#include "tokenizer/wordpiece_tokenizer.h"
#include "util/error.h"

namespace lumen {
namespace {

using Ids = std::vector<int32_t>;
using Words = std::vector<std::string>;

TEST(BertWords, NormalisesAndSplitsAsBertDoes) {
  // Lower case, accents stripped, punctuation and CJK ideographs on their own, control
  // characters dropped, any whitespace a separator.
  EXPECT_EQ(bert_words("H\xC3\xA9llo, WORLD!\t\xE6\x88\x91\xE6\x83\xB3 a\x01" "b"),
            (Words{"hello", ",", "world", "!", "\xE6\x88\x91", "\xE6\x83\xB3", "ab"}));
  EXPECT_EQ(bert_words("$5 \xE2\x80\x94 ok\xE3\x80\x80then"), (Words{"$", "5", "\xE2\x80\x94", "ok", "then"}));
  EXPECT_EQ(bert_words("bad \xFF utf8"), (Words{"bad", "utf8"}));
}

// Ids: 0 [UNK], 1 [CLS], 2 [SEP], 3 ▁un, 4 want, 5 ed, 6 ▁runn, 7 ing, 8 ▁,, 9 ▁a, 10 a.
Vocab tiny_vocab() {
  Vocab v;
  v.model = "bert";
  v.pieces = {"[UNK]", "[CLS]", "[SEP]", "\xE2\x96\x81un", "want", "ed", "\xE2\x96\x81runn", "ing", "\xE2\x96\x81,",
              "\xE2\x96\x81" "a", "a"};
  v.types.assign(v.pieces.size(), TokenType::Normal);
  for (int id : {0, 1, 2}) v.types[id] = TokenType::Control;
  v.scores.assign(v.pieces.size(), 0.0f);
  v.unk_id = 0;
  v.bos_id = v.cls_id = 1;
  v.eos_id = v.sep_id = 2;
  v.add_bos = v.add_eos = true;
  return v;
}

TEST(WordPiece, LongestPiecesFirst) {
  const WordPieceTokenizer t(tiny_vocab());
  EXPECT_EQ(t.encode("Unwanted, running", false), (Ids{3, 4, 5, 8, 6, 7}));
}

TEST(WordPiece, AWordWithAnUncoveredPartIsUnknown) {
  const WordPieceTokenizer t(tiny_vocab());
  EXPECT_EQ(t.encode("unwantedx running", false), (Ids{0, 6, 7}));
}

TEST(WordPiece, WordsOverAHundredCharactersAreUnknown) {
  const WordPieceTokenizer t(tiny_vocab());
  Ids hundred(100, 10);  // ▁a, then a continuation "a" for each further character
  hundred[0] = 9;
  EXPECT_EQ(t.encode(std::string(100, 'a'), false), hundred);
  EXPECT_EQ(t.encode(std::string(101, 'a'), false), (Ids{0}));
}

TEST(WordPiece, SpecialTokensWrapAndAreFoundInText) {
  const WordPieceTokenizer t(tiny_vocab());
  EXPECT_EQ(t.encode("running", true), (Ids{1, 6, 7, 2}));
  EXPECT_EQ(t.encode("[CLS]running[SEP]", false), (Ids{1, 6, 7, 2}));
}

TEST(WordPiece, DecodeJoinsContinuations) {
  const WordPieceTokenizer t(tiny_vocab());
  EXPECT_EQ(t.decode(Ids{1, 3, 4, 5, 6, 7, 2}), "unwanted running");
  EXPECT_EQ(t.decode_piece(1, 6), "runn");  // after [CLS]: no space
  EXPECT_EQ(t.decode_piece(3, 6), " runn");
  EXPECT_EQ(t.decode_piece(6, 7), "ing");
}

TEST(WordPiece, RejectsBadVocabularies) {
  Vocab v = tiny_vocab();
  v.unk_id = 99;
  EXPECT_THROW(WordPieceTokenizer{v}, Error);
  v = tiny_vocab();
  v.model = "gpt2";
  EXPECT_THROW(WordPieceTokenizer{v}, Error);
  v = tiny_vocab();
  v.bos_id = -1;
  EXPECT_THROW(WordPieceTokenizer(v).encode("a", true), Error);
}

}  // namespace
}  // namespace lumen
