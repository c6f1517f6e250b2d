#pragma once
// The regex pre-tokenizers of byte-level BPE vocabularies: text is cut into words before BPE
// runs on each, so that merges never cross a word boundary. A pre-tokenizer is a sequence of
// regexes (PCRE2, UTF + Unicode properties); each in turn cuts every piece the previous one
// left into its matches and the gaps between them — Hugging Face's `Split` with the "Isolated"
// behaviour, which is also how llama.cpp runs its per-`tokenizer.ggml.pre` regex lists.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lumen {

// The regexes llama.cpp runs for `tokenizer.ggml.pre` = `name` (Hugging Face's own patterns
// where it has one), or nullopt for a name lumen does not know.
std::optional<std::vector<std::string>> pre_tokenizer_regexes(std::string_view name);

// The `tokenizer.ggml.pre` name whose regexes are `regexes`, or nullopt: how a Hugging Face
// tokenizer.json's pre_tokenizer is recognised.
std::optional<std::string> pre_tokenizer_name(const std::vector<std::string>& regexes);

// GPT-2's pattern: contractions, letters, digits, other symbols (each with one leading space)
// and whitespace runs (a run followed by a word leaves its last space to that word).
extern const char* const kGpt2Regex;

class PreTokenizer {
 public:
  explicit PreTokenizer(const std::vector<std::string>& regexes);  // a lumen::Error for a bad one
  ~PreTokenizer();
  PreTokenizer(PreTokenizer&&) noexcept;

  // The words of `text`, views into it, in order; together they cover all of it. Malformed
  // UTF-8 never matches, so each bad byte is left in a gap of its own.
  std::vector<std::string_view> split(std::string_view text) const;

 private:
  struct Regex;
  std::vector<std::unique_ptr<Regex>> regexes_;
};

}  // namespace lumen
