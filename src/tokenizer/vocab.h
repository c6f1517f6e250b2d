#pragma once
// The vocabulary a tokenizer works from, as read from a llama2.c tokenizer .bin, from GGUF
// `tokenizer.ggml.*` metadata or from a Hugging Face tokenizer.json. Pieces are stored as the
// tokenizer model writes them: SentencePiece ("llama") with U+2581 (▁) for a space (the llama2.c
// reader converts its plain spaces to ▁ on load), byte-level BPE ("gpt2") in GPT-2's
// byte-to-character alphabet (Ġ for a space), WordPiece ("bert") as llama.cpp writes it: ▁
// before a word's first piece, continuations bare (Hugging Face's "##" dropped).
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
  std::string model = "llama";  // tokenizer.ggml.model: "llama", "gpt2" or "bert"
  std::string pre = "default";  // tokenizer.ggml.pre: which pre-tokenizer splits text (gpt2)
  std::vector<std::string> pieces;
  std::vector<float> scores;
  std::vector<TokenType> types;
  int32_t bos_id = 1;
  int32_t eos_id = 2;
  int32_t unk_id = 0;
  int32_t sep_id = -1;  // BERT's [SEP] (also its EOS), [CLS] (its BOS), [PAD], [MASK]; -1: none
  int32_t cls_id = -1;
  int32_t pad_id = -1;
  int32_t mask_id = -1;
  bool add_bos = true;   // encoding with special tokens starts with BOS ([CLS] for BERT)
  bool add_eos = false;  // ... and ends with EOS ([SEP] for BERT)
  // tokenizer.ggml.merges (byte-level BPE): "left right", the first merge the most preferred.
  std::vector<std::string> merges;
  std::string chat_template;  // tokenizer.chat_template (Jinja); empty: the server's fallback

  int32_t size() const { return int32_t(pieces.size()); }
};

}  // namespace lumen
