#include "tokenizer/wordpiece_tokenizer.h"

#include <utf8proc.h>

#include "tokenizer/utf8.h"
#include "util/error.h"

namespace lumen {
namespace {

constexpr std::string_view kWordStart = "\xE2\x96\x81";  // U+2581 (▁), which llama.cpp puts on word starts
constexpr size_t kMaxWordChars = 100;  // BERT's max_input_chars_per_word

// Unicode's White_Space characters (what Hugging Face's BERT normaliser turns into a space).
bool is_whitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Other (C*) characters except the whitespace controls: removed by BERT's clean-up, along
// with NUL and U+FFFD.
bool is_removed(char32_t c) {
  if (c == 0 || c == 0xFFFD) return true;
  if (c == '\t' || c == '\n' || c == '\r') return false;
  switch (utf8proc_category(utf8proc_int32_t(c))) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CS:
      return true;
    default:
      return false;
  }
}

// The CJK Unified Ideographs blocks BERT gives a word each (not Japanese kana or Hangul).
bool is_cjk(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// BERT counts all ASCII symbols as punctuation, and Unicode's P* categories.
bool is_punctuation(char32_t c) {
  if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return true;
  switch (utf8proc_category(utf8proc_int32_t(c))) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
      return true;
    default:
      return false;
  }
}

// The code points of `text`; malformed bytes are dropped, as the U+FFFD they would be read as
// is dropped by the clean-up anyway.
std::vector<char32_t> code_points(std::string_view text) {
  std::vector<char32_t> cps;
  for (size_t pos = 0; pos < text.size();) {
    const size_t size = utf8_char_length(text.substr(pos));
    if (size) cps.push_back(utf8_code_point(text.substr(pos), size));
    pos += std::max<size_t>(size, 1);
  }
  return cps;
}

// Canonical decomposition without the nonspacing marks (NFD, then drop Mn), then lower case.
void append_folded(std::u32string& out, char32_t c) {
  utf8proc_int32_t parts[8];
  utf8proc_ssize_t n = utf8proc_decompose_char(utf8proc_int32_t(c), parts, 8, UTF8PROC_DECOMPOSE, nullptr);
  if (n < 0 || n > 8) parts[0] = utf8proc_int32_t(c), n = 1;  // no decomposition that fits: keep it
  for (utf8proc_ssize_t i = 0; i < n; ++i) {
    if (utf8proc_category(parts[i]) == UTF8PROC_CATEGORY_MN) continue;
    out += char32_t(utf8proc_tolower(parts[i]));
  }
}

}  // namespace

std::vector<std::string> bert_words(std::string_view text) {
  // The normaliser: clean-up, CJK ideographs spaced apart, accents stripped, lower case.
  std::u32string normalized;
  for (char32_t c : code_points(text)) {
    if (is_removed(c)) continue;
    if (is_whitespace(c)) {
      normalized += U' ';
    } else if (is_cjk(c)) {
      normalized += U' ';
      append_folded(normalized, c);
      normalized += U' ';
    } else {
      append_folded(normalized, c);
    }
  }
  // The pre-tokenizer: words end at whitespace, and each punctuation mark is a word.
  std::vector<std::string> words;
  std::string word;
  const auto end_word = [&] {
    if (!word.empty()) words.push_back(std::move(word));
    word.clear();
  };
  for (char32_t c : normalized) {
    if (is_whitespace(c)) {
      end_word();
    } else if (is_punctuation(c)) {
      end_word();
      append_utf8(word, c);
      end_word();
    } else {
      append_utf8(word, c);
    }
  }
  end_word();
  return words;
}

namespace {

// The model is checked before the vocabulary's size and types.
Vocab wordpiece_vocab(Vocab v) {
  expect_tokenizer_model(v, "bert", "WordPiece");
  return v;
}

}  // namespace

WordPieceTokenizer::WordPieceTokenizer(Vocab vocab)
    : PieceTokenizer(wordpiece_vocab(std::move(vocab)), "BOS ([CLS])", "EOS ([SEP])") {
  checked_token(vocab_, vocab_.unk_id, "unknown-token");
}

void WordPieceTokenizer::encode_plain(std::string_view text, std::vector<int32_t>& ids) const {
  for (const std::string& word : bert_words(text)) encode_word(word, ids);
}

// Greedy longest match from the left; `word` is well-formed UTF-8.
void WordPieceTokenizer::encode_word(std::string_view word, std::vector<int32_t>& ids) const {
  std::vector<size_t> bounds;  // byte offset of each character, then the end
  for (size_t pos = 0; pos < word.size(); pos += utf8_char_length(word.substr(pos))) bounds.push_back(pos);
  const size_t chars = bounds.size();
  bounds.push_back(word.size());
  if (chars > kMaxWordChars) return ids.push_back(vocab_.unk_id);

  const size_t first = ids.size();
  std::string candidate;
  for (size_t start = 0; start < chars;) {
    size_t end = chars;
    for (; end > start; --end) {
      candidate.assign(start == 0 ? kWordStart : "");
      candidate.append(word.substr(bounds[start], bounds[end] - bounds[start]));
      if (auto it = ids_.find(candidate); it != ids_.end()) {
        ids.push_back(it->second);
        break;
      }
    }
    if (end == start) {  // no piece covers this part: the whole word is unknown
      ids.resize(first);
      return ids.push_back(vocab_.unk_id);
    }
    start = end;
  }
}

std::string WordPieceTokenizer::decode_piece(int32_t prev, int32_t token) const {
  checked_token(vocab_, token, "token");
  const std::string& piece = vocab_.pieces[token];
  if (!piece.starts_with(kWordStart)) return piece;  // a continuation, or a control token as written
  const bool first = prev < 0 || prev >= vocab_.size() || vocab_.types[prev] == TokenType::Control;
  std::string text = first ? "" : " ";
  text.append(piece, kWordStart.size());
  return text;
}

}  // namespace lumen
