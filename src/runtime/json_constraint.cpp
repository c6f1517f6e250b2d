#include "runtime/json_constraint.h"

#include <limits>
#include <utility>

#include "tokenizer/tokenizer.h"

namespace lumen {

std::shared_ptr<const TokenBytes> token_bytes(const Vocab& vocab) {
  const std::unique_ptr<Tokenizer> tokenizer = make_tokenizer(vocab);
  auto bytes = std::make_shared<TokenBytes>(size_t(vocab.size()));
  for (int32_t t = 0; t < vocab.size(); ++t) {
    const TokenType type = vocab.types[t];
    // After a token other than BOS: SentencePiece's leading space is kept, as mid-text.
    if (type == TokenType::Normal || type == TokenType::Byte || type == TokenType::UserDefined)
      (*bytes)[t] = tokenizer->decode_piece(-1, t);
  }
  return bytes;
}

JsonConstraint::JsonConstraint(std::shared_ptr<const TokenBytes> bytes, int32_t end_token)
    : bytes_(std::move(bytes)), end_token_(end_token) {}

void JsonConstraint::mask(float* logits) const {
  const float never = -std::numeric_limits<float>::infinity();
  const bool complete = text_.complete();
  bool any = false;
  for (size_t t = 0; t < bytes_->size(); ++t) {
    if (int32_t(t) == end_token_) continue;
    const std::string& piece = (*bytes_)[t];
    JsonPrefix next = text_;
    if (complete || piece.empty() || !next.push(piece)) logits[t] = never;
    else any = true;
  }
  if (!complete && any && end_token_ >= 0) logits[end_token_] = never;
}

void JsonConstraint::accept(int32_t token) {
  if (token != end_token_) text_.push((*bytes_)[size_t(token)]);
}

}  // namespace lumen
