#include "tokenizer/tokenizer.h"

#include "tokenizer/bpe_tokenizer.h"
#include "tokenizer/spm_tokenizer.h"
#include "tokenizer/wordpiece_tokenizer.h"
#include "util/error.h"

namespace lumen {

std::string Tokenizer::decode(std::span<const int32_t> tokens) const {
  const Vocab& v = vocab();
  std::string text;
  int32_t prev = -1;
  for (int32_t token : tokens) {
    if (token >= 0 && token < v.size() && v.types[token] == TokenType::Control) continue;
    text += decode_piece(prev, token);
    prev = token;
  }
  return text;
}

std::unique_ptr<Tokenizer> make_tokenizer(Vocab vocab) {
  if (vocab.model == "llama") return std::make_unique<SpmTokenizer>(std::move(vocab));
  if (vocab.model == "gpt2") return std::make_unique<BpeTokenizer>(std::move(vocab));
  if (vocab.model == "bert") return std::make_unique<WordPieceTokenizer>(std::move(vocab));
  fail("tokenizer model '", vocab.model, "' is not supported (lumen reads 'llama', 'gpt2' and 'bert')");
}

int32_t checked_token(const Vocab& vocab, int32_t id, const char* what) {
  if (id < 0 || id >= vocab.size()) fail("tokenizer ", what, " id ", id, " is outside the vocabulary of ", vocab.size());
  return id;
}

}  // namespace lumen
