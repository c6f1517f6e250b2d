#pragma once
// The vocabulary a tokenizer works from, as read from a llama2.c tokenizer .bin or from GGUF
// `tokenizer.ggml.*` metadata. Pieces are stored as SentencePiece writes them, with U+2581 (▁)
// for a space; the llama2.c reader converts its plain spaces to ▁ on load.
#include <cstdint>
#include <string>
#include <vector>

namespace lumen {

// GGUF `tokenizer.ggml.token_type` values (llama.cpp's llama_token_type).
enum class TokenType : int32_t {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

struct Vocab {
  std::string model = "llama";  // tokenizer.ggml.model
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<TokenType> types;
  int32_t bos_id = 1;
  int32_t eos_id = 2;
  int32_t unk_id = 0;
  bool add_bos = true;
  std::string chat_template;  // tokenizer.chat_template (Jinja); empty: the server's fallback

  int32_t size() const { return int32_t(pieces.size()); }
};

}  // namespace lumen
