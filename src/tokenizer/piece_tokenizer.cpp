#include "tokenizer/piece_tokenizer.h"

#include "util/error.h"

namespace lumen {
namespace {

// Checked before anything indexes the per-token arrays (the special-token table does at once).
Vocab consistent(Vocab vocab) {
  const size_t n = vocab.pieces.size();
  if (n == 0) fail("tokenizer vocabulary is empty");
  if (vocab.types.size() != n) fail("tokenizer vocabulary has ", n, " pieces but ", vocab.types.size(), " types");
  return vocab;
}

}  // namespace

PieceTokenizer::PieceTokenizer(Vocab vocab, const char* bos_what, const char* eos_what)
    : vocab_(consistent(std::move(vocab))), special_(vocab_), bos_what_(bos_what), eos_what_(eos_what) {
  for (int32_t id = 0; id < vocab_.size(); ++id) ids_.try_emplace(vocab_.pieces[id], id);
}

std::vector<int32_t> PieceTokenizer::encode(std::string_view text, bool add_special) const {
  std::vector<int32_t> ids;
  if (add_special && vocab_.add_bos) ids.push_back(checked_token(vocab_, vocab_.bos_id, bos_what_));
  for (const SpecialTokens::Segment& segment : special_.split(text)) {
    if (segment.id >= 0) {
      ids.push_back(segment.id);
      continue;
    }
    encode_plain(segment.text, ids);
  }
  if (add_special && vocab_.add_eos) ids.push_back(checked_token(vocab_, vocab_.eos_id, eos_what_));
  return ids;
}

void expect_tokenizer_model(const Vocab& vocab, const char* model, const char* what) {
  if (vocab.model != model) fail("tokenizer model '", vocab.model, "' is not ", what, " ('", model, "')");
}

}  // namespace lumen
