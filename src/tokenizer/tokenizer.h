#pragma once
// The interface every tokenizer model offers, and the factory that picks one by the
// vocabulary's `model` (GGUF's tokenizer.ggml.model): "llama" SentencePiece BPE, "gpt2"
// byte-level BPE, "bert" WordPiece.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/vocab.h"

namespace lumen {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // The ids of `text`. With add_special, the markers the vocabulary asks for are added: BOS
  // ([CLS]) first when vocab().add_bos, EOS ([SEP]) last when vocab().add_eos.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_special) const = 0;

  // The text of one token as it streams out after `prev` (-1: none), so that joining the
  // pieces of a sequence gives its text. A multi-byte character may arrive over several calls.
  virtual std::string decode_piece(int32_t prev, int32_t token) const = 0;

  // The text of a sequence; control tokens (BOS, EOS, [CLS], ...) are left out.
  virtual std::string decode(std::span<const int32_t> tokens) const;

  virtual const Vocab& vocab() const = 0;
};

// The tokenizer for `vocab.model`; a lumen::Error naming the model if lumen has none for it.
std::unique_ptr<Tokenizer> make_tokenizer(Vocab vocab);

// A map from pieces to ids that can be probed with a string_view into the text, no copy made.
struct PieceHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using PieceIds = std::unordered_map<std::string, int32_t, PieceHash, std::equal_to<>>;

// `id` after checking it names a token of `vocab`; `what` ("BOS") names it in the error.
int32_t checked_token(const Vocab& vocab, int32_t id, const char* what);

}  // namespace lumen
