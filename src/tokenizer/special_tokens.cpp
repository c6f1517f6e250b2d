#include "tokenizer/special_tokens.h"

#include <algorithm>

namespace lumen {

SpecialTokens::SpecialTokens(const Vocab& vocab) {
  for (int32_t id = 0; id < vocab.size(); ++id) {
    const TokenType type = vocab.types[id];
    const std::string& piece = vocab.pieces[id];
    if ((type != TokenType::Control && type != TokenType::UserDefined) || piece.empty()) continue;
    if (!ids_.try_emplace(piece, id).second) continue;  // a duplicate keeps its first id
    lengths_.push_back(piece.size());
    starts_[uint8_t(piece[0])] = true;
  }
  std::sort(lengths_.rbegin(), lengths_.rend());
  lengths_.erase(std::unique(lengths_.begin(), lengths_.end()), lengths_.end());
}

std::vector<SpecialTokens::Segment> SpecialTokens::split(std::string_view text) const {
  std::vector<Segment> segments;
  size_t plain = 0;  // start of the plain run not yet emitted
  for (size_t pos = 0; pos < text.size();) {
    int32_t found = -1;
    size_t found_length = 0;
    if (starts_[uint8_t(text[pos])]) {
      for (size_t length : lengths_) {
        if (length > text.size() - pos) continue;
        if (auto it = ids_.find(text.substr(pos, length)); it != ids_.end()) {
          found = it->second, found_length = length;
          break;
        }
      }
    }
    if (found < 0) {
      ++pos;
      continue;
    }
    if (pos > plain) segments.push_back({text.substr(plain, pos - plain), -1});
    segments.push_back({text.substr(pos, found_length), found});
    pos += found_length;
    plain = pos;
  }
  if (plain < text.size()) segments.push_back({text.substr(plain), -1});
  return segments;
}

}  // namespace lumen
