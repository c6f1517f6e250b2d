// JSON mode's byte checker (runtime/json_prefix.h) against nlohmann's parser as the oracle.
// Every prefix of a valid text must be taken, and the checker must call a text complete exactly
// when nlohmann parses it. On thousands of random mutations of valid texts (bytes replaced,
// inserted, deleted): a text the checker takes whole and calls complete must parse; and where
// the checker refuses a byte, no continuation (the rest of the text, or any of a list of closing
// sequences) may turn the refused prefix into one that parses. Then the two limits nlohmann does
// not have, and the token mask built on the checker.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/json_constraint.h"
#include "runtime/json_prefix.h"

namespace lumen {
namespace {

// Whether nlohmann parses text; nothing when it cannot tell: it stops at a number too large for
// a double (valid syntax, which is all the checker judges) before it has read the rest.
std::optional<bool> parses(const std::string& text) {
  try {
    const nlohmann::json parsed = nlohmann::json::parse(text);
    return true;
  } catch (const nlohmann::json::parse_error&) {
    return false;
  } catch (const nlohmann::json::out_of_range&) {
    return std::nullopt;
  }
}

// Where nlohmann can tell, whether it parses text.
bool parses_or_unknown(const std::string& text, bool if_unknown) { return parses(text).value_or(if_unknown); }

// How many bytes of text the checker takes before it refuses one.
size_t accepted(const std::string& text, bool object_only = false) {
  JsonPrefix p(object_only);
  for (size_t i = 0; i < text.size(); ++i)
    if (!p.push(static_cast<unsigned char>(text[i]))) return i;
  return text.size();
}

const std::vector<std::string>& corpus() {
  static const std::vector<std::string> texts = {
      R"({})", R"([])", R"({"a":1})", R"( { "a" : [ 1 , 2.5 , -3e+7 , 0.0E-1 ] , "b" : null } )",
      R"({"nested":{"x":[true,false,null,{"y":[[]]}]},"z":"w"})", R"([0,-0,10,1e5,1E-5,12.75,-0.5e3])",
      R"("plain")", R"("esc \" \\ \/ \b \f \n \r \t \u00e9 \uD83D\uDE00 end")", "\"utf-8: \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
      R"(123)", R"(-7.25e-2)", R"(true)", "[\n\t1,\r\n 2\n]", R"({"k":"v","k2":{"a":[1,{"b":"c"}]}})",
  };
  return texts;
}

TEST(JsonPrefix, EveryPrefixOfValidTextsIsTaken) {
  for (const std::string& text : corpus()) {
    JsonPrefix p(false);
    for (size_t n = 0; n < text.size(); ++n) {
      ASSERT_TRUE(p.push(static_cast<unsigned char>(text[n]))) << text << " at " << n;
      EXPECT_EQ(p.complete(), parses(text.substr(0, n + 1)).value()) << text.substr(0, n + 1);
    }
    EXPECT_TRUE(p.complete()) << text;
  }
}

TEST(JsonPrefix, MutatedTextsAgreeWithTheParser) {
  const std::string alphabet = "{}[]:,\" \\/0123456789-+.eEtrufalsn\x01\x1f\x7f\x80\xbf\xc0\xc3\xa9\xe0\xed\xf0\xf4\xf5\xffuDdc";
  const std::vector<std::string> closers = {"", "}", "]", "\"", "\"}", "\"]", "0", "0}", "0]", "\":0}", "\":0]",
                                            "e0}", "0\"}", "rue}", "alse]", "ull}", "\\n\"}", "\"]}", "]}", "}]"};
  std::mt19937 rng(11);
  int refused = 0, complete = 0;
  for (const std::string& text : corpus())
    for (int variant = 0; variant < 300; ++variant) {
      std::string s = text;
      for (int edits = 1 + int(rng() % 3); edits > 0; --edits) {
        const size_t at = s.empty() ? 0 : rng() % s.size();
        const char c = alphabet[rng() % alphabet.size()];
        switch (rng() % 3) {
          case 0: if (!s.empty()) s[at] = c; break;
          case 1: s.insert(s.begin() + long(at), c); break;
          default: if (!s.empty()) s.erase(at, 1);
        }
      }
      const size_t k = accepted(s);
      if (k == s.size()) {
        JsonPrefix p(false);
        p.push(s);
        EXPECT_EQ(p.complete(), parses_or_unknown(s, p.complete())) << s;
        complete += p.complete();
        continue;
      }
      ++refused;
      const std::string refused_prefix = s.substr(0, k + 1);
      EXPECT_FALSE(parses_or_unknown(refused_prefix + s.substr(k + 1), false)) << s << " refused at " << k;
      for (const std::string& w : closers) EXPECT_FALSE(parses_or_unknown(refused_prefix + w, false)) << refused_prefix << w;
    }
  EXPECT_GT(refused, 1000);
  EXPECT_GT(complete, 100);
}

// The edges of UTF-8 (RFC 3629) inside strings, and of \u escapes: overlong forms, surrogates,
// beyond U+10FFFF, stray continuation bytes, a lone or unpaired surrogate escape.
TEST(JsonPrefix, EncodingEdgesAgreeWithTheParser) {
  for (const char* inner : {"\xc2\x80", "\xc1\xbf", "\xe0\xa0\x80", "\xe0\x9f\xbf", "\xed\x9f\xbf", "\xed\xa0\x80",
                            "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf0\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf", "\xf4\x90\x80\x80",
                            "\xf5\x80\x80\x80", "\x80", "\xc3", "\xe2\x82", R"(\uD83D\uDE00)", R"(\uD83D)", R"(\uDE00)",
                            R"(\uD83D\u0041)", R"(\uD83Dx)", R"(\u00e9)", R"(\u12G4)"}) {
    const std::string text = std::string("\"") + inner + "\"";
    JsonPrefix p(false);
    const bool taken = p.push(text);
    EXPECT_EQ(taken && p.complete(), parses(text).value()) << text;
  }
}

TEST(JsonPrefix, ObjectOnlyAndTheLimits) {
  EXPECT_EQ(accepted("[1]", true), 0u);
  EXPECT_EQ(accepted("\"x\"", true), 0u);
  EXPECT_EQ(accepted("  {\"a\":[1]}  ", true), 13u);
  JsonPrefix object(true);
  EXPECT_TRUE(object.push("{\"a\":[1]"));
  EXPECT_FALSE(object.complete());
  EXPECT_TRUE(object.push("}"));
  EXPECT_TRUE(object.complete());
  EXPECT_FALSE(JsonPrefix(object).push("x"));  // nothing but whitespace after the value

  const std::string deep(JsonPrefix::kMaxDepth, '[');
  EXPECT_EQ(accepted(deep + "["), deep.size());  // one level too deep
  const std::string spaces(JsonPrefix::kMaxWhitespaceRun, ' ');
  EXPECT_EQ(accepted("[" + spaces + "1," + spaces + " 2]"), 1 + spaces.size() + 2 + spaces.size());
}

// The mask over a toy vocabulary: only tokens that continue the text stay; the end of text only
// once the object is complete, and then alone.
TEST(JsonConstraint, MasksTokensThatCannotContinue) {
  auto bytes = std::make_shared<TokenBytes>(TokenBytes{"", "{", "}", "\"a\"", ":", "1", " ", "x", "{\"", "\"}"});
  const int32_t end = 0;
  JsonConstraint json(bytes, end);
  const auto allowed = [&] {
    std::vector<float> logits(bytes->size(), 1.0f);
    json.mask(logits.data());
    std::string open;
    for (size_t t = 0; t < logits.size(); ++t)
      if (std::isfinite(logits[t])) open += std::to_string(t);
    return open;
  };
  EXPECT_EQ(allowed(), "168");  // "{", " ", "{\""
  json.accept(1);
  EXPECT_EQ(allowed(), "2369");  // "}", "\"a\"", " ", "\"}" (a key that starts with a brace)
  for (int32_t t : {3, 4, 5}) json.accept(t);  // {"a":1
  EXPECT_EQ(allowed(), "256");  // "}", "1" (11), " "
  json.accept(2);
  EXPECT_EQ(allowed(), "0");  // complete: the end of text alone
}

}  // namespace
}  // namespace lumen
