#pragma once
// Turns a checked request into what the engine runs: renders a chat through the model's chat
// template, tokenizes, and checks what only the model can judge (prompt length against the
// context, token ids against the vocabulary). Every failure is an ApiError 400.
#include <memory>
#include <string>

#include "lumen/lumen.h"
#include "runtime/engine.h"
#include "server/chat_template.h"
#include "server/openai_protocol.h"

namespace lumen::server {

class PromptBuilder {
 public:
  // Uses the vocabulary's chat template, or kFallbackChatTemplate when it has none or one
  // outside the supported subset (warning() then says why).
  PromptBuilder(std::shared_ptr<const Model> model, int32_t context_length);

  RequestParams build(const CompletionRequest& request) const;

  // The chat prompt as text (before tokenization), for the chat template tests.
  std::string render_chat(const nlohmann::json& messages) const;

  const std::string& warning() const { return warning_; }

 private:
  std::shared_ptr<const Model> model_;
  int32_t context_length_;
  std::string warning_;
  ChatTemplate template_;
};

}  // namespace lumen::server
