#include "tokenizer/word_vocab.h"

#include <fstream>

#include "util/error.h"

namespace lumen {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

}  // namespace

WordVocab WordVocab::read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open word vocabulary ", path);
  WordVocab v;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const int32_t id = v.size();
    if (line.empty()) fail(path, ":", id + 1, ": empty line (token ", id, " needs a word)");
    for (char c : line)
      if (is_space(c)) fail(path, ":", id + 1, ": token '", line, "' holds whitespace");
    if (!v.ids_.emplace(line, id).second) fail(path, ":", id + 1, ": token '", line, "' is listed twice");
    v.words_.push_back(line);
  }
  if (v.words_.empty()) fail(path, ": the word vocabulary is empty");
  return v;
}

std::vector<int32_t> WordVocab::encode(std::string_view text, int32_t unk_id) const {
  std::vector<int32_t> ids;
  size_t pos = 0;
  while (pos < text.size()) {
    while (pos < text.size() && is_space(text[pos])) ++pos;
    size_t end = pos;
    while (end < text.size() && !is_space(text[end])) ++end;
    if (end == pos) break;
    const auto it = ids_.find(text.substr(pos, end - pos));
    ids.push_back(it != ids_.end() ? it->second : unk_id);
    pos = end;
  }
  return ids;
}

std::string WordVocab::decode(std::span<const int32_t> ids) const {
  std::string text;
  for (int32_t id : ids) {
    if (id < 0 || id >= size()) fail("token id ", id, " is outside the word vocabulary (", size(), ")");
    if (!text.empty()) text += ' ';
    text += words_[size_t(id)];
  }
  return text;
}

}  // namespace lumen
