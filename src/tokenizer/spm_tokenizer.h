#pragma once
// SentencePiece BPE encoding and decoding, as the Llama 2 tokenizer is configured: a dummy
// "▁" prefix, every space escaped to "▁", no other normalisation, byte fallback for characters
// the vocabulary lacks. encode() gives the ids SentencePiece gives (the oracle test holds it to
// that); decode() gives the text back.
#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace lumen {

// The byte a piece of the exact form "<0xHH>" (upper-case hex, as SentencePiece writes it)
// stands for; nullopt for any other piece.
std::optional<uint8_t> parse_byte_piece(std::string_view piece);

class SpmTokenizer final : public Tokenizer {
 public:
  explicit SpmTokenizer(Vocab vocab);

  std::vector<int32_t> encode(std::string_view text, bool add_special) const override;

  // The text of one token: "▁" as a space, a byte piece as its raw byte (so a multi-byte
  // character may arrive over several calls), control pieces as written ("<s>"). A leading
  // space is dropped after BOS, where it is SentencePiece's dummy prefix.
  std::string decode_piece(int32_t prev_token, int32_t token) const override;

  // The text of a sequence: control tokens are skipped and the first piece loses its dummy
  // prefix, as SentencePiece decodes. Byte tokens are joined as raw bytes.
  std::string decode(std::span<const int32_t> tokens) const override;

  const Vocab& vocab() const override { return vocab_; }

 private:
  // For unused pieces formed while merging: the two parts each was built from.
  using SplitOf = std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>>;
  struct Symbol;

  std::vector<Symbol> split(const std::string& normalized) const;
  void merge(const std::string& normalized, std::vector<Symbol>& symbols, SplitOf& split_of) const;
  void emit(std::string_view piece, const SplitOf& split_of, std::vector<int32_t>& ids) const;
  std::optional<int32_t> piece_id(std::string_view piece) const;

  Vocab vocab_;
  PieceIds mergeable_;  // Normal, UserDefined, Unused: pieces BPE may build by merging
  PieceIds reserved_;   // Control, Unknown, Byte: never formed from text
  std::vector<size_t> user_defined_lengths_;  // distinct, longest first
  std::array<int32_t, 256> byte_ids_{};
  bool byte_fallback_ = false;
  size_t max_mergeable_bytes_ = 0;
};

}  // namespace lumen
