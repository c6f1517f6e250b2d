#pragma once
// WordPiece, as BERT tokenizes: added tokens ([CLS], [SEP], ...) are cut out first; the rest
// goes through BERT's basic tokenizer (control characters dropped, whitespace unified, CJK
// ideographs made words of their own, lower-cased with accents stripped, punctuation split off)
// and each word is then cut greedily into the longest pieces the vocabulary has. Pieces are
// spelled as llama.cpp's GGUFs spell them: a word's first piece with U+2581 (▁) before it,
// continuations bare (Hugging Face's "##ing" is "ing"), control tokens as they are. A word with
// a part no piece covers, or over 100 characters, is [UNK].
// encode() gives the ids Hugging Face's BertTokenizer gives for an uncased vocabulary.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/piece_tokenizer.h"

namespace lumen {

class WordPieceTokenizer final : public PieceTokenizer {
 public:
  // Needs `model` "bert" and an unknown token; add_special wraps the text in bos_id ([CLS]) and
  // eos_id ([SEP]) as vocab.add_bos / add_eos ask.
  explicit WordPieceTokenizer(Vocab vocab);

  // A continuation joins the previous piece; a word's first piece follows a space, except at
  // the start or after a control token.
  std::string decode_piece(int32_t prev, int32_t token) const override;

 private:
  void encode_plain(std::string_view text, std::vector<int32_t>& ids) const override;
  void encode_word(std::string_view word, std::vector<int32_t>& ids) const;
};

// BERT's basic tokenizer (uncased): the words of `text`, lower-cased and without accents.
std::vector<std::string> bert_words(std::string_view text);

}  // namespace lumen
