#include "tokenizer/spm_tokenizer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <queue>

#include "tokenizer/utf8.h"
#include "util/error.h"

namespace lumen {
namespace {

constexpr std::string_view kSpace = "\xE2\x96\x81";        // U+2581, SentencePiece's space
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// SentencePiece's normalisation for the Llama tokenizer (identity rules): a dummy-prefix
// space, spaces escaped to ▁, and each byte of malformed UTF-8 replaced by U+FFFD — which is
// what SentencePiece does, so such text encodes as it does there (and cannot round-trip).
std::string normalize(std::string_view text) {
  std::string out(kSpace);
  out.reserve(text.size() + text.size() / 2 + kSpace.size());
  for (size_t i = 0; i < text.size();) {
    const size_t len = utf8_char_length(text.substr(i));
    if (len == 0)
      out += kReplacement;
    else if (text[i] == ' ')
      out += kSpace;
    else
      out.append(text.substr(i, len));
    i += std::max<size_t>(len, 1);
  }
  return out;
}

std::string byte_piece(uint8_t b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "<0x%02X>", b);
  return buf;
}

// Which pieces BPE may form by merging, as SentencePiece decides it: normal, user-defined and
// unused ones. GGUF's Undefined (a vocabulary without types) counts as normal.
bool is_mergeable(TokenType t) {
  return t == TokenType::Normal || t == TokenType::UserDefined || t == TokenType::Unused ||
         t == TokenType::Undefined;
}

}  // namespace

std::optional<uint8_t> parse_byte_piece(std::string_view piece) {
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (piece.size() != 6 || !piece.starts_with("<0x") || piece[5] != '>') return std::nullopt;
  const int hi = hex(piece[3]), lo = hex(piece[4]);
  if (hi < 0 || lo < 0) return std::nullopt;
  return uint8_t(hi * 16 + lo);
}

// A run of the normalised text, linked to its live neighbours while merges remove symbols.
struct SpmTokenizer::Symbol {
  size_t begin, size;
  int32_t prev, next;
  bool frozen;  // a user-defined piece: never merged with a neighbour
};

SpmTokenizer::SpmTokenizer(Vocab vocab) : vocab_(std::move(vocab)) {
  if (vocab_.model != "llama")
    fail("tokenizer model '", vocab_.model, "' is not SentencePiece BPE ('llama')");
  const size_t n = vocab_.pieces.size();
  if (n == 0) fail("tokenizer vocabulary is empty");
  if (vocab_.scores.size() != n || vocab_.types.size() != n)
    fail("tokenizer vocabulary has ", n, " pieces but ", vocab_.scores.size(), " scores and ",
         vocab_.types.size(), " types");
  if (vocab_.unk_id < 0 || vocab_.unk_id >= vocab_.size())
    fail("tokenizer unknown-token id ", vocab_.unk_id, " is outside the vocabulary of ", n);
  for (int32_t id = 0; id < vocab_.size(); ++id) {
    const std::string& piece = vocab_.pieces[id];
    const TokenType type = vocab_.types[id];
    if (std::isnan(vocab_.scores[id])) fail("tokenizer piece ", id, " has a NaN score");
    // A duplicate piece keeps its first id (SentencePiece would refuse such a model).
    if (is_mergeable(type)) {
      mergeable_.try_emplace(piece, id);
      max_mergeable_bytes_ = std::max(max_mergeable_bytes_, piece.size());
    } else {
      reserved_.try_emplace(piece, id);
    }
    if (type == TokenType::UserDefined) user_defined_lengths_.push_back(piece.size());
    if (type == TokenType::Byte) byte_fallback_ = true;
  }
  std::sort(user_defined_lengths_.rbegin(), user_defined_lengths_.rend());
  user_defined_lengths_.erase(std::unique(user_defined_lengths_.begin(), user_defined_lengths_.end()),
                              user_defined_lengths_.end());
  for (int b = 0; b < 256; ++b) byte_ids_[b] = piece_id(byte_piece(uint8_t(b))).value_or(vocab_.unk_id);
}

// SentencePiece's PieceToId: reserved pieces first, then the mergeable ones.
std::optional<int32_t> SpmTokenizer::piece_id(std::string_view piece) const {
  if (auto it = reserved_.find(piece); it != reserved_.end()) return it->second;
  if (auto it = mergeable_.find(piece); it != mergeable_.end()) return it->second;
  return std::nullopt;
}

// One symbol per character, except that a user-defined piece (longest match) is one frozen
// symbol. `normalized` is valid UTF-8.
std::vector<SpmTokenizer::Symbol> SpmTokenizer::split(const std::string& normalized) const {
  std::vector<Symbol> symbols;
  for (size_t pos = 0; pos < normalized.size();) {
    const std::string_view rest = std::string_view(normalized).substr(pos);
    size_t size = 0;
    bool frozen = false;
    for (size_t len : user_defined_lengths_) {
      if (len > rest.size()) continue;
      auto it = mergeable_.find(rest.substr(0, len));
      if (it != mergeable_.end() && vocab_.types[it->second] == TokenType::UserDefined) {
        size = len, frozen = true;
        break;
      }
    }
    if (!frozen) size = utf8_char_length(rest);
    const auto index = int32_t(symbols.size());
    symbols.push_back({pos, size, index - 1, -1, frozen});
    if (index > 0) symbols[index - 1].next = index;
    pos += size;
  }
  return symbols;
}

// BPE as SentencePiece runs it: repeatedly merge the adjacent pair whose concatenation is a
// mergeable piece of the highest score, the leftmost among equals. The agenda holds every
// candidate pair; one whose symbols have changed since it was queued is stale and skipped
// (symbols only grow or empty, so a changed total size detects it). O(n log n).
void SpmTokenizer::merge(const std::string& normalized, std::vector<Symbol>& symbols,
                         SplitOf& split_of) const {
  struct Candidate {
    float score;
    int32_t left, right;
    size_t size;
  };
  const auto lower_priority = [](const Candidate& a, const Candidate& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(lower_priority)> agenda(lower_priority);
  const auto text_of = [&](const Symbol& s) { return std::string_view(normalized).substr(s.begin, s.size); };

  const auto consider = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0 || symbols[left].frozen || symbols[right].frozen) return;
    const size_t size = symbols[left].size + symbols[right].size;
    if (size > max_mergeable_bytes_) return;
    const std::string_view piece = std::string_view(normalized).substr(symbols[left].begin, size);
    const auto it = mergeable_.find(piece);
    if (it == mergeable_.end()) return;
    agenda.push({vocab_.scores[it->second], left, right, size});
    // An unused piece may be passed through but is not emitted: remember how it was built, so
    // it can be split again (SentencePiece keeps the most recently queued split).
    if (vocab_.types[it->second] == TokenType::Unused)
      split_of.insert_or_assign(piece, std::pair(text_of(symbols[left]), text_of(symbols[right])));
  };

  for (int32_t i = 1; i < int32_t(symbols.size()); ++i) consider(i - 1, i);
  while (!agenda.empty()) {
    const Candidate top = agenda.top();
    agenda.pop();
    Symbol& left = symbols[top.left];
    Symbol& right = symbols[top.right];
    if (left.size == 0 || right.size == 0 || left.size + right.size != top.size) continue;
    left.size = top.size;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.left;
    right.size = 0;
    consider(left.prev, top.left);
    consider(top.left, left.next);
  }
}

// Appends the ids of one final symbol: an unused piece is split back into the parts it was
// built from, a piece the vocabulary lacks falls back to its bytes (or one unknown token for a
// whole run, without byte pieces — SentencePiece's rule).
void SpmTokenizer::emit(std::string_view piece, const SplitOf& split_of, std::vector<int32_t>& ids) const {
  const std::optional<int32_t> id = piece_id(piece);
  if (id && vocab_.types[*id] == TokenType::Unused) {
    if (auto it = split_of.find(piece); it != split_of.end()) {
      emit(it->second.first, split_of, ids);
      emit(it->second.second, split_of, ids);
      return;
    }
  }
  if (id && vocab_.types[*id] != TokenType::Unknown) {
    ids.push_back(*id);
  } else if (byte_fallback_) {
    for (char c : piece) ids.push_back(byte_ids_[uint8_t(c)]);
  } else if (ids.empty() || ids.back() != vocab_.unk_id) {
    ids.push_back(vocab_.unk_id);
  }
}

std::vector<int32_t> SpmTokenizer::encode(std::string_view text, bool add_special) const {
  std::vector<int32_t> ids;
  if (add_special && vocab_.add_bos) ids.push_back(checked_token(vocab_, vocab_.bos_id, "BOS"));
  if (!text.empty()) {
    const std::string normalized = normalize(text);
    std::vector<Symbol> symbols = split(normalized);
    SplitOf split_of;
    merge(normalized, symbols, split_of);
    for (int32_t i = 0; i >= 0; i = symbols[i].next)
      emit(std::string_view(normalized).substr(symbols[i].begin, symbols[i].size), split_of, ids);
  }
  if (add_special && vocab_.add_eos) ids.push_back(checked_token(vocab_, vocab_.eos_id, "EOS"));
  return ids;
}

std::string SpmTokenizer::decode_piece(int32_t prev_token, int32_t token) const {
  if (token < 0 || token >= vocab_.size())
    fail("token id ", token, " is outside the vocabulary of ", vocab_.size());
  const std::string& piece = vocab_.pieces[token];
  if (vocab_.types[token] == TokenType::Byte) {
    if (auto b = parse_byte_piece(piece)) return std::string(1, char(*b));
  }
  std::string text;
  for (size_t i = 0; i < piece.size();) {
    if (std::string_view(piece).substr(i).starts_with(kSpace)) {
      text += ' ';
      i += kSpace.size();
    } else {
      text += piece[i++];
    }
  }
  if (prev_token == vocab_.bos_id && text.starts_with(' ')) text.erase(0, 1);
  return text;
}

std::string SpmTokenizer::decode(std::span<const int32_t> tokens) const {
  std::string text;
  int32_t prev = vocab_.bos_id;  // the first piece's leading space is the dummy prefix
  for (int32_t token : tokens) {
    if (token >= 0 && token < vocab_.size() && vocab_.types[token] == TokenType::Control) continue;
    text += decode_piece(prev, token);
    prev = token;
  }
  return text;
}

}  // namespace lumen
