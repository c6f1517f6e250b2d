#include "tokenizer/bpe_tokenizer.h"

#include <queue>

#include "tokenizer/utf8.h"
#include "util/error.h"

namespace lumen {
namespace {

// GPT-2's byte alphabet: the printable Latin-1 bytes stand for themselves, the other 68 bytes
// (controls, space, DEL, NBSP, soft hyphen) for U+0100 onwards in byte order, so that every
// piece is printable text without spaces.
std::array<char32_t, 256> byte_alphabet() {
  std::array<char32_t, 256> chars{};
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
    chars[b] = printable ? char32_t(b) : next++;
  }
  return chars;
}

std::vector<std::string> regexes_for(const Vocab& v) {
  expect_tokenizer_model(v, "gpt2", "byte-level BPE");
  auto regexes = pre_tokenizer_regexes(v.pre);
  if (!regexes) fail("byte-level BPE pre-tokenizer '", v.pre, "' is not supported");
  return *regexes;
}

// The model and the pre-tokenizer are checked before the vocabulary's size and types.
Vocab bpe_vocab(Vocab v) {
  regexes_for(v);
  return v;
}

}  // namespace

BpeTokenizer::BpeTokenizer(Vocab vocab)
    : PieceTokenizer(bpe_vocab(std::move(vocab)), "BOS", "EOS"),
      pre_tokenizer_(regexes_for(vocab_)),
      ignore_merges_(vocab_.pre == "llama-bpe" || vocab_.pre == "llama3") {
  if (vocab_.unk_id >= vocab_.size())
    fail("tokenizer unknown-token id ", vocab_.unk_id, " is outside the vocabulary of ", vocab_.pieces.size());
  for (size_t rank = 0; rank < vocab_.merges.size(); ++rank) {
    const std::string& merge = vocab_.merges[rank];
    const size_t space = merge.find(' ', 1);  // a piece never holds a space, but may be one
    if (space == std::string::npos || space + 1 == merge.size() || merge.find(' ', space + 1) != std::string::npos)
      fail("tokenizer merge ", rank, " '", merge, "' is not two pieces separated by one space");
    merge_ranks_.try_emplace(merge, int32_t(rank));  // a repeated merge keeps its best rank
  }
  const auto alphabet = byte_alphabet();
  for (int b = 0; b < 256; ++b) {
    append_utf8(byte_chars_[b], alphabet[b]);
    char_bytes_[alphabet[b]] = uint8_t(b);
  }
}

void BpeTokenizer::encode_plain(std::string_view text, std::vector<int32_t>& ids) const {
  for (std::string_view word : pre_tokenizer_.split(text)) encode_word(word, ids);
}

// BPE on one word: start from one symbol per byte and merge, again and again, the adjacent
// pair of the best rank, the leftmost among equals (Hugging Face's order). Symbols are
// contiguous runs of `mapped`, linked to their live neighbours; a queued pair whose symbols
// have changed since is stale and skipped. O(n log n) in the word's length.
void BpeTokenizer::encode_word(std::string_view word, std::vector<int32_t>& ids) const {
  std::string mapped;
  for (char c : word) mapped += byte_chars_[uint8_t(c)];
  const std::string_view text = mapped;
  if (ignore_merges_) {
    if (auto it = ids_.find(text); it != ids_.end()) return ids.push_back(it->second);
  }

  struct Symbol {
    size_t begin, size;
    int32_t prev, next;
  };
  std::vector<Symbol> symbols;
  for (size_t pos = 0; pos < text.size();) {
    const size_t size = std::max<size_t>(utf8_char_length(text.substr(pos)), 1);
    const auto index = int32_t(symbols.size());
    symbols.push_back({pos, size, index - 1, -1});
    if (index > 0) symbols[index - 1].next = index;
    pos += size;
  }

  struct Candidate {
    int32_t rank, left;
    size_t size;
  };
  const auto worse = [](const Candidate& a, const Candidate& b) {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(worse)> agenda(worse);
  std::string key;
  const auto consider = [&](int32_t left) {
    if (left < 0 || symbols[left].next < 0) return;
    const Symbol& l = symbols[left];
    const Symbol& r = symbols[l.next];
    key.assign(text.substr(l.begin, l.size)).append(" ").append(text.substr(r.begin, r.size));
    if (auto it = merge_ranks_.find(key); it != merge_ranks_.end()) agenda.push({it->second, left, l.size + r.size});
  };
  for (int32_t i = 0; i + 1 < int32_t(symbols.size()); ++i) consider(i);
  while (!agenda.empty()) {
    const Candidate top = agenda.top();
    agenda.pop();
    Symbol& left = symbols[top.left];
    if (left.size == 0 || left.next < 0) continue;
    Symbol& right = symbols[left.next];
    if (left.size + right.size != top.size) continue;
    left.size = top.size;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.left;
    right.size = 0;
    consider(left.prev);
    consider(top.left);
  }

  // A piece the vocabulary lacks becomes the unknown token, or nothing without one, as in
  // Hugging Face; with all 256 byte characters in the vocabulary it does not happen.
  for (int32_t i = 0; i >= 0 && !symbols.empty(); i = symbols[i].next) {
    if (auto it = ids_.find(text.substr(symbols[i].begin, symbols[i].size)); it != ids_.end())
      ids.push_back(it->second);
    else if (vocab_.unk_id >= 0)
      ids.push_back(vocab_.unk_id);
  }
}

std::string BpeTokenizer::decode_piece(int32_t prev, int32_t token) const {
  checked_token(vocab_, token, "token");
  const std::string& piece = vocab_.pieces[token];
  const TokenType type = vocab_.types[token];
  if (type == TokenType::Control || type == TokenType::UserDefined) return piece;
  std::string bytes;
  for (size_t pos = 0; pos < piece.size();) {
    const size_t size = utf8_char_length(std::string_view(piece).substr(pos));
    const auto it = size ? char_bytes_.find(utf8_code_point(std::string_view(piece).substr(pos), size)) : char_bytes_.end();
    // A character outside the byte alphabet (not in a well-formed vocabulary) passes as it is.
    if (it != char_bytes_.end())
      bytes += char(it->second);
    else
      bytes.append(piece, pos, std::max<size_t>(size, 1));
    pos += std::max<size_t>(size, 1);
  }
  return bytes;
}

}  // namespace lumen
