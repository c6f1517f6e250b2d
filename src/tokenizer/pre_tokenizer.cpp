#include "tokenizer/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <utility>

#include "util/error.h"

namespace lumen {

const char* const kGpt2Regex = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

// Llama 3's pattern (Hugging Face's text): case-insensitive contractions, a word with at most one
// non-letter before it, numbers of up to three digits, symbols with the line breaks after them.
constexpr const char* kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// Qwen2's: Llama 3's with single digits.
constexpr const char* kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// CJK ideographs, the blocks before them, Hangul: DeepSeek keeps such runs whole.
constexpr const char* kCjkRun = "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+";

struct Entry {
  const char* names;  // tokenizer.ggml.pre names sharing the regexes, space-separated, main first
  std::vector<std::string> regexes;
};

const std::vector<Entry>& table() {
  static const std::vector<Entry> entries = {
      // "default": a gpt2 vocabulary that names no pre-tokenizer gets GPT-2's.
      {"gpt-2 default mpt olmo jais", {kGpt2Regex}},
      // Digits one by one first (Hugging Face's Digits(individual_digits)), then GPT-2's.
      {"starcoder refact command-r smollm codeshell", {R"(\p{N})", kGpt2Regex}},
      // Hugging Face's Punctuation (Unicode P and the ASCII symbols it counts), GPT-2's, then
      // numbers cut into threes.
      {"falcon", {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2Regex, "[0-9][0-9][0-9]"}},
      {"deepseek-coder", {"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kCjkRun, R"(\p{N})"}},
      // DeepSeek LLM lists the cased letters (Unicode L&) and ASCII/full-width punctuation.
      {"deepseek-llm",
       {"[\r\n]", R"(\s?\p{L&}+)", "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+", R"(\s+$)",
        kCjkRun, R"(\p{N}+)"}},
      {"llama-bpe llama3", {kLlama3Regex}},
      {"qwen2 stablelm2", {kQwen2Regex}},
  };
  return entries;
}

bool names_contain(std::string_view names, std::string_view name) {
  while (!names.empty()) {
    const size_t end = names.find(' ');
    if (names.substr(0, end) == name) return true;
    if (end == std::string_view::npos) break;
    names.remove_prefix(end + 1);
  }
  return false;
}

}  // namespace

std::optional<std::vector<std::string>> pre_tokenizer_regexes(std::string_view name) {
  for (const Entry& e : table())
    if (names_contain(e.names, name)) return e.regexes;
  return std::nullopt;
}

std::optional<std::string> pre_tokenizer_name(const std::vector<std::string>& regexes) {
  for (const Entry& e : table()) {
    const std::string_view names = e.names;
    if (e.regexes == regexes) return std::string(names.substr(0, names.find(' ')));
  }
  return std::nullopt;
}

struct PreTokenizer::Regex {
  pcre2_code* code = nullptr;
  ~Regex() { pcre2_code_free(code); }
};

PreTokenizer::PreTokenizer(const std::vector<std::string>& regexes) {
  for (const std::string& pattern : regexes) {
    int error = 0;
    PCRE2_SIZE offset = 0;
    auto regex = std::make_unique<Regex>();
    regex->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error, &offset, nullptr);
    if (!regex->code) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error, message, sizeof message);
      fail("pre-tokenizer regex '", pattern, "' does not compile at offset ", offset, ": ",
           reinterpret_cast<const char*>(message));
    }
    pcre2_jit_compile(regex->code, PCRE2_JIT_COMPLETE);  // without a JIT it still matches, slower
    regexes_.push_back(std::move(regex));
  }
}

PreTokenizer::~PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;

std::vector<std::string_view> PreTokenizer::split(std::string_view text) const {
  std::vector<std::string_view> pieces{text};
  if (text.empty()) return {};
  std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> match(pcre2_match_data_create(1, nullptr),
                                                                           &pcre2_match_data_free);
  for (const auto& regex : regexes_) {
    std::vector<std::string_view> next;
    for (std::string_view piece : pieces) {
      const auto subject = reinterpret_cast<PCRE2_SPTR>(piece.data());
      size_t gap = 0;  // start of the text not yet emitted
      for (size_t pos = 0; pos < piece.size();) {
        const int rc = pcre2_match(regex->code, subject, piece.size(), pos, 0, match.get(), nullptr);
        if (rc < 0) break;  // no more matches (or a matching error, which leaves the rest whole)
        const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match.get());
        const size_t begin = ovector[0], end = ovector[1];
        if (end == begin) {  // an empty match cuts nothing; move on
          pos = begin + 1;
          continue;
        }
        if (begin > gap) next.push_back(piece.substr(gap, begin - gap));
        next.push_back(piece.substr(begin, end - begin));
        gap = pos = end;
      }
      if (gap < piece.size()) next.push_back(piece.substr(gap));
    }
    pieces = std::move(next);
  }
  return pieces;
}

}  // namespace lumen
