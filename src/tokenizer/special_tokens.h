#pragma once
// Added tokens — GGUF's Control and UserDefined pieces, Hugging Face's `added_tokens` — are
// found in the raw text before any normalisation or pre-tokenization splits it, as Hugging Face
// does: at each position the longest such piece wins, and the text between them is tokenized
// by the model's own rules.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace lumen {

class SpecialTokens {
 public:
  explicit SpecialTokens(const Vocab& vocab);

  struct Segment {
    std::string_view text;  // the text of a plain run, or the special token's own text
    int32_t id;             // the special token, or -1 for a plain run
  };
  // `text` cut into plain runs (never empty) and special tokens, in order.
  std::vector<Segment> split(std::string_view text) const;

 private:
  PieceIds ids_;
  std::vector<size_t> lengths_;                        // distinct, longest first
  bool starts_[256] = {};                              // first bytes of the special pieces
};

}  // namespace lumen
