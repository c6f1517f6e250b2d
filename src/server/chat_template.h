#pragma once
// Chat templates: the Jinja subset that GGUF `tokenizer.chat_template` strings use to turn a
// conversation into one prompt. Supported: {{ expressions }}, {% if/elif/else %},
// {% for x in list %} with loop.index/index0/first/last/length, {% set %}, comments, the `-`
// whitespace markers, and Hugging Face's trim_blocks + lstrip_blocks. Expressions: literals,
// variables, .attr and [index] and [a:b], + - * / % ~, comparisons, and/or/not, in,
// `is [not] defined/none/string/...`, `x if c else y`, the filters trim/upper/lower/length/
// first/last/tojson/string/default, the string methods strip/lstrip/rstrip/upper/lower/
// startswith/endswith, and raise_exception(). Anything else is a parse error, so a template
// lumen cannot follow is refused up front rather than rendered wrongly.
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace lumen::server {

// Used when a model carries no template (or one outside the subset): a plain transcript, one
// "role: content" line per message, ending in "assistant:" for the model to continue. It suits
// base models, which know no special chat markers.
extern const char* const kFallbackChatTemplate;

class ChatTemplate {
 public:
  // Throws lumen::Error for a template outside the subset.
  explicit ChatTemplate(const std::string& source);
  ~ChatTemplate();
  ChatTemplate(ChatTemplate&&) noexcept;

  // `variables` holds messages, add_generation_prompt, bos_token, eos_token. Throws lumen::Error
  // when rendering fails (including the template's own raise_exception).
  std::string render(const nlohmann::json& variables) const;

 private:
  struct Program;
  std::unique_ptr<Program> program_;
};

}  // namespace lumen::server
