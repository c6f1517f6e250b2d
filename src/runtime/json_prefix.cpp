#include "runtime/json_prefix.h"

namespace lumen {
namespace {

bool is_whitespace(unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

int hex_value(unsigned char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool JsonPrefix::push(std::string_view bytes) {
  for (const char c : bytes)
    if (!push(static_cast<unsigned char>(c))) return false;
  return true;
}

bool JsonPrefix::complete() const {
  return mode_ == Mode::Done || (depth_ == 0 && mode_ == Mode::Number && number_may_end());
}

bool JsonPrefix::push(unsigned char c) {
  if (mode_ != Mode::String && mode_ != Mode::Escape && mode_ != Mode::HexDigits && is_whitespace(c)) {
    // A number or a literal ends at whitespace; elsewhere between tokens it is allowed.
    if (mode_ == Mode::Number) {
      if (!number_may_end()) return false;
      value_done();
    }
    if (mode_ == Mode::Literal || mode_ == Mode::LowSurrogateBackslash || mode_ == Mode::LowSurrogateU) return false;
    return whitespace();
  }
  whitespace_run_ = 0;
  switch (mode_) {
    case Mode::Value: return value_start(c);
    case Mode::ValueOrArrayEnd: return c == ']' ? close('a') : value_start(c);
    case Mode::KeyOrObjectEnd:
      if (c == '}') return close('o');
      [[fallthrough]];
    case Mode::Key:
      if (c != '"') return false;
      mode_ = Mode::String;
      key_ = true;
      return true;
    case Mode::Colon:
      if (c != ':') return false;
      mode_ = Mode::Value;
      return true;
    case Mode::ObjectNext:
      if (c == ',') {
        mode_ = Mode::Key;
        return true;
      }
      return c == '}' && close('o');
    case Mode::ArrayNext:
      if (c == ',') {
        mode_ = Mode::Value;
        return true;
      }
      return c == ']' && close('a');
    case Mode::String: return string_byte(c);
    case Mode::Escape:
      if (c == 'u') {
        mode_ = Mode::HexDigits;
        hex_left_ = 4;
        code_unit_ = 0;
        return true;
      }
      if (c != '"' && c != '\\' && c != '/' && c != 'b' && c != 'f' && c != 'n' && c != 'r' && c != 't') return false;
      mode_ = Mode::String;
      return true;
    case Mode::HexDigits: return hex_digit(c);
    case Mode::LowSurrogateBackslash:
      if (c != '\\') return false;
      mode_ = Mode::LowSurrogateU;
      return true;
    case Mode::LowSurrogateU:
      if (c != 'u') return false;
      mode_ = Mode::HexDigits;
      hex_left_ = 4;
      code_unit_ = 0;
      low_surrogate_ = true;
      return true;
    case Mode::Number:
      if (number_byte(c)) return true;
      if (!number_may_end()) return false;
      value_done();
      return push(c);  // the byte after the number belongs to its container
    case Mode::Literal:
      if (c != static_cast<unsigned char>(*literal_)) return false;
      if (*++literal_ == '\0') value_done();
      return true;
    case Mode::Done: return false;
  }
  return false;
}

bool JsonPrefix::whitespace() {
  if (mode_ == Mode::Number) return false;
  if (++whitespace_run_ > kMaxWhitespaceRun) return false;
  return true;
}

bool JsonPrefix::value_start(unsigned char c) {
  if (object_only_ && depth_ == 0 && c != '{') return false;
  switch (c) {
    case '{': return open('o', Mode::KeyOrObjectEnd);
    case '[': return open('a', Mode::ValueOrArrayEnd);
    case '"':
      mode_ = Mode::String;
      key_ = false;
      return true;
    case 't': literal_ = "rue"; break;
    case 'f': literal_ = "alse"; break;
    case 'n': literal_ = "ull"; break;
    default:
      if (c != '-' && !is_digit(c)) return false;
      mode_ = Mode::Number;
      number_ = c == '-' ? NumberPart::Minus : c == '0' ? NumberPart::Zero : NumberPart::Integer;
      return true;
  }
  mode_ = Mode::Literal;
  return true;
}

// Inside a string: printable ASCII, escapes, and UTF-8 as RFC 3629 allows it (no overlong
// forms, no surrogates, nothing above U+10FFFF), a sequence possibly split across tokens.
bool JsonPrefix::string_byte(unsigned char c) {
  if (utf8_left_ > 0) {
    if (c < utf8_low_ || c > utf8_high_) return false;
    --utf8_left_;
    utf8_low_ = 0x80;
    utf8_high_ = 0xBF;
    return true;
  }
  if (c == '"') {
    if (key_) mode_ = Mode::Colon;
    else value_done();
    return true;
  }
  if (c == '\\') {
    mode_ = Mode::Escape;
    return true;
  }
  if (c < 0x20) return false;
  if (c < 0x80) return true;
  if (c >= 0xC2 && c <= 0xDF) {
    utf8_left_ = 1;
  } else if (c >= 0xE0 && c <= 0xEF) {
    utf8_left_ = 2;
    if (c == 0xE0) utf8_low_ = 0xA0;   // no overlong 3-byte forms
    if (c == 0xED) utf8_high_ = 0x9F;  // no surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    utf8_left_ = 3;
    if (c == 0xF0) utf8_low_ = 0x90;   // no overlong 4-byte forms
    if (c == 0xF4) utf8_high_ = 0x8F;  // nothing above U+10FFFF
  } else {
    return false;
  }
  return true;
}

// \uXXXX: a high surrogate must be followed by \u and a low one; a low one alone is an error.
bool JsonPrefix::hex_digit(unsigned char c) {
  const int v = hex_value(c);
  if (v < 0) return false;
  code_unit_ = uint16_t(code_unit_ << 4 | v);
  if (--hex_left_ > 0) return true;
  const bool high = code_unit_ >= 0xD800 && code_unit_ <= 0xDBFF, low = code_unit_ >= 0xDC00 && code_unit_ <= 0xDFFF;
  if (low_surrogate_ != low || (low_surrogate_ && high)) return false;
  if (high) {
    mode_ = Mode::LowSurrogateBackslash;
    return true;
  }
  low_surrogate_ = false;
  mode_ = Mode::String;
  return true;
}

bool JsonPrefix::number_byte(unsigned char c) {
  const bool digit = is_digit(c), exponent = c == 'e' || c == 'E';
  switch (number_) {
    case NumberPart::Minus:
      if (!digit) return false;
      number_ = c == '0' ? NumberPart::Zero : NumberPart::Integer;
      return true;
    case NumberPart::Zero:
    case NumberPart::Integer:
      if (digit && number_ == NumberPart::Integer) return true;
      if (c == '.') number_ = NumberPart::Dot;
      else if (exponent) number_ = NumberPart::Exponent;
      else return false;
      return true;
    case NumberPart::Dot:
      if (!digit) return false;
      number_ = NumberPart::Fraction;
      return true;
    case NumberPart::Fraction:
      if (digit) return true;
      if (!exponent) return false;
      number_ = NumberPart::Exponent;
      return true;
    case NumberPart::Exponent:
      if (c == '+' || c == '-') number_ = NumberPart::ExponentSign;
      else if (digit) number_ = NumberPart::ExponentDigits;
      else return false;
      return true;
    case NumberPart::ExponentSign:
      if (!digit) return false;
      number_ = NumberPart::ExponentDigits;
      return true;
    case NumberPart::ExponentDigits: return digit;
  }
  return false;
}

bool JsonPrefix::number_may_end() const {
  return number_ == NumberPart::Zero || number_ == NumberPart::Integer || number_ == NumberPart::Fraction ||
         number_ == NumberPart::ExponentDigits;
}

void JsonPrefix::value_done() {
  if (depth_ == 0) mode_ = Mode::Done;
  else mode_ = stack_[depth_ - 1] == 'o' ? Mode::ObjectNext : Mode::ArrayNext;
}

bool JsonPrefix::open(char container, Mode next) {
  if (depth_ == kMaxDepth) return false;
  stack_[depth_++] = container;
  mode_ = next;
  return true;
}

bool JsonPrefix::close(char container) {
  if (depth_ == 0 || stack_[depth_ - 1] != container) return false;
  --depth_;
  value_done();
  return true;
}

}  // namespace lumen
