#pragma once
// Byte-level BPE, as GPT-2 and its descendants (Llama 3, Qwen2, Falcon, StarCoder, DeepSeek)
// tokenize: added tokens are cut out first, the rest is split into words by the vocabulary's
// regex pre-tokenizer, each word's bytes are written in GPT-2's byte alphabet (every byte one
// printable character, a space as "Ġ"), and merges are applied by rank, the best first.
// encode() gives the ids Hugging Face's tokenizers give (tests hold it to llama.cpp's vectors).
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/piece_tokenizer.h"
#include "tokenizer/pre_tokenizer.h"

namespace lumen {

class BpeTokenizer final : public PieceTokenizer {
 public:
  // Needs `model` "gpt2", a pre-tokenizer lumen knows in `pre`, and well-formed merges.
  explicit BpeTokenizer(Vocab vocab);

  // A normal piece as the bytes it stands for; an added or control piece as its text.
  std::string decode_piece(int32_t prev, int32_t token) const override;

 private:
  void encode_plain(std::string_view text, std::vector<int32_t>& ids) const override;
  void encode_word(std::string_view word, std::vector<int32_t>& ids) const;

  PreTokenizer pre_tokenizer_;
  PieceIds merge_ranks_;                    // "left right" -> rank, 0 the best
  std::array<std::string, 256> byte_chars_;  // byte -> its character in GPT-2's alphabet
  std::unordered_map<char32_t, uint8_t> char_bytes_;
  bool ignore_merges_;  // Llama 3: a word that is a piece is taken whole, merges or not
};

}  // namespace lumen
