#pragma once
// What byte-level BPE and WordPiece share: the vocabulary with its piece -> id map, added tokens
// cut out of the text first (SpecialTokens), BOS / EOS put around the ids as the vocabulary
// asks, and every plain run between the added tokens encoded by the model's own rules.
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/special_tokens.h"
#include "tokenizer/tokenizer.h"

namespace lumen {

class PieceTokenizer : public Tokenizer {
 public:
  std::vector<int32_t> encode(std::string_view text, bool add_special) const final;
  const Vocab& vocab() const final { return vocab_; }

 protected:
  // Fails unless the vocabulary has pieces and one type per piece. `bos_what` / `eos_what` name
  // the markers in the error when their ids are outside the vocabulary ("BOS ([CLS])").
  PieceTokenizer(Vocab vocab, const char* bos_what, const char* eos_what);

  // Appends the ids of one plain run of text (never empty, no added token in it).
  virtual void encode_plain(std::string_view text, std::vector<int32_t>& ids) const = 0;

  Vocab vocab_;
  SpecialTokens special_;
  PieceIds ids_;  // every piece, the first id of a repeated one

 private:
  const char* bos_what_;
  const char* eos_what_;
};

// Fails unless vocab.model is `model`; `what` says what that model is ("WordPiece").
void expect_tokenizer_model(const Vocab& vocab, const char* model, const char* what);

}  // namespace lumen
