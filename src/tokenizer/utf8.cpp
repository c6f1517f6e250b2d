#include "tokenizer/utf8.h"

#include <cstdint>

namespace lumen {

size_t utf8_char_length(std::string_view s) {
  if (s.empty()) return 0;
  const auto byte = [&](size_t i) { return uint8_t(s[i]); };
  const auto trail = [&](size_t i) { return i < s.size() && (byte(i) & 0xC0) == 0x80; };
  const uint8_t lead = byte(0);
  if (lead < 0x80) return 1;
  size_t len;
  uint32_t cp, min;
  if ((lead & 0xE0) == 0xC0) {
    len = 2, cp = lead & 0x1F, min = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    len = 3, cp = lead & 0x0F, min = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    len = 4, cp = lead & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  for (size_t i = 1; i < len; ++i) {
    if (!trail(i)) return 0;
    cp = (cp << 6) | (byte(i) & 0x3F);
  }
  const bool surrogate = cp >= 0xD800 && cp < 0xE000;
  return cp >= min && cp <= 0x10FFFF && !surrogate ? len : 0;
}

char32_t utf8_code_point(std::string_view s, size_t length) {
  static constexpr uint8_t kLeadMask[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  char32_t cp = uint8_t(s[0]) & kLeadMask[length];
  for (size_t i = 1; i < length; ++i) cp = (cp << 6) | (uint8_t(s[i]) & 0x3F);
  return cp;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

}  // namespace lumen
