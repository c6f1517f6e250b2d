#pragma once
// A whitespace word vocabulary, the tokenizer of lumen's encoder–decoder format
// (docs/FORMATS.md): a text file with one token per line, line i (from 0) being token i. A text
// is split on ASCII whitespace and each word looked up whole; ids decode back to their words
// joined by single spaces.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace lumen {

class WordVocab {
 public:
  // An empty file, an empty line or a word given twice is an error naming the line.
  static WordVocab read(const std::string& path);

  // The ids of `text`'s words; a word the vocabulary lacks becomes unk_id.
  std::vector<int32_t> encode(std::string_view text, int32_t unk_id) const;
  std::string decode(std::span<const int32_t> ids) const;
  int32_t size() const { return int32_t(words_.size()); }

 private:
  std::vector<std::string> words_;
  PieceIds ids_;
};

}  // namespace lumen
