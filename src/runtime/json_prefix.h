#pragma once
// Whether a byte string can still become a JSON text (RFC 8259), read one byte at a time: the
// checker behind JSON mode (response_format json_object), which keeps every generated token
// inside the grammar. It accepts exactly the prefixes of valid JSON texts, with strict UTF-8 and
// \u surrogate pairs, and two limits a generator needs and a parser does not: nesting depth and
// consecutive whitespace (a model could otherwise emit whitespace for ever).
//
// The state is a few dozen bytes and copies cheaply: to test a token, push its bytes into a copy.
#include <array>
#include <cstdint>
#include <string_view>

namespace lumen {

class JsonPrefix {
 public:
  static constexpr int kMaxDepth = 32;
  static constexpr int kMaxWhitespaceRun = 32;  // room for pretty-printing 7 levels deep

  // object_only: the text must be an object (OpenAI's json_object); otherwise any value.
  explicit JsonPrefix(bool object_only = true) : object_only_(object_only) {}

  // Reads one byte; false when no JSON text continues the bytes read so far with it. After a
  // false the state is unspecified: test bytes on a copy.
  bool push(unsigned char c);
  // Reads the bytes in turn; false at the first that fails.
  bool push(std::string_view bytes);

  // Whether the bytes read so far are a whole JSON text (whitespace may still follow; a
  // top-level number may also still grow).
  bool complete() const;

 private:
  enum class Mode : uint8_t {
    Value,            // a value must come (after ':' or ',' in an array, or at the start)
    ValueOrArrayEnd,  // after '['
    KeyOrObjectEnd,   // after '{'
    Key,              // after ',' in an object
    Colon,            // after a key
    ObjectNext,       // after a member's value: ',' or '}'
    ArrayNext,        // after an element: ',' or ']'
    String,
    Escape,           // after a backslash
    HexDigits,        // in \uXXXX
    LowSurrogateBackslash,  // after a high surrogate's \uXXXX: its low half must follow
    LowSurrogateU,
    Number,
    Literal,          // in true / false / null
    Done,             // the top-level value is complete
  };
  enum class NumberPart : uint8_t { Minus, Zero, Integer, Dot, Fraction, Exponent, ExponentSign, ExponentDigits };

  bool value_start(unsigned char c);
  bool string_byte(unsigned char c);
  bool hex_digit(unsigned char c);
  bool number_byte(unsigned char c);  // false: c does not continue the number
  bool number_may_end() const;
  void value_done();
  bool open(char container, Mode next);
  bool close(char container);
  bool whitespace();

  bool object_only_;
  Mode mode_ = Mode::Value;
  std::array<char, kMaxDepth> stack_{};  // 'o' object, 'a' array
  int8_t depth_ = 0;
  uint8_t whitespace_run_ = 0;
  bool key_ = false;                 // the string being read is an object key
  NumberPart number_ = NumberPart::Minus;
  const char* literal_ = nullptr;    // the rest of the literal being read
  uint8_t utf8_left_ = 0;            // continuation bytes still due in a string
  uint8_t utf8_low_ = 0x80, utf8_high_ = 0xBF;  // the range of the next continuation byte
  uint8_t hex_left_ = 0;
  uint16_t code_unit_ = 0;           // the \u escape being read
  bool low_surrogate_ = false;       // ... is the low half of a pair
};

}  // namespace lumen
