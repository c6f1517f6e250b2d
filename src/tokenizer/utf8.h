#pragma once
// UTF-8 helpers the tokenizers share. They never throw: text from users may be malformed, and
// each tokenizer decides what a malformed byte becomes.
#include <cstddef>
#include <string>
#include <string_view>

namespace lumen {

// Length of the UTF-8 character at the start of `s`, or 0 if it is malformed: a bad lead or
// continuation byte, an overlong form, a surrogate or a code point past U+10FFFF.
size_t utf8_char_length(std::string_view s);

// The code point of the character at the start of `s`, whose length utf8_char_length gave.
char32_t utf8_code_point(std::string_view s, size_t length);

// Appends `cp` (at most U+10FFFF) encoded as UTF-8.
void append_utf8(std::string& out, char32_t cp);

}  // namespace lumen
