#include "server/prompt_builder.h"

#include <algorithm>

#include "formats/loaded_model.h"
#include "util/error.h"

namespace lumen::server {
namespace {

ChatTemplate load_template(const std::string& source, std::string& warning) {
  if (source.empty()) return ChatTemplate(kFallbackChatTemplate);
  try {
    return ChatTemplate(source);
  } catch (const Error& e) {
    warning = std::string("the model's chat template is not supported (") + e.what() + "); using the fallback";
    return ChatTemplate(kFallbackChatTemplate);
  }
}

std::string piece_or_empty(const Vocab& vocab, int32_t id) {
  return id >= 0 && id < vocab.size() ? vocab.pieces[size_t(id)] : std::string();
}

void check_token_ids(const std::vector<int32_t>& ids, int32_t vocab_size, const char* param) {
  for (int32_t id : ids)
    if (id >= vocab_size)
      throw ApiError(400, std::string("'") + param + "' holds token id " + std::to_string(id) +
                              " outside the vocabulary of " + std::to_string(vocab_size), param, "invalid_value");
}

}  // namespace

PromptBuilder::PromptBuilder(std::shared_ptr<const Model> model, int32_t context_length)
    : model_(std::move(model)),
      context_length_(context_length),
      template_(load_template(model_->loaded().vocab.chat_template, warning_)) {}

std::string PromptBuilder::render_chat(const nlohmann::json& messages) const {
  const Vocab& vocab = model_->loaded().vocab;
  const std::string bos = piece_or_empty(vocab, vocab.bos_id);
  std::string text;
  try {
    text = template_.render({{"messages", messages},
                             {"add_generation_prompt", true},
                             {"bos_token", bos},
                             {"eos_token", piece_or_empty(vocab, vocab.eos_id)}});
  } catch (const Error& e) {
    throw ApiError(400, e.what(), "messages", "invalid_value");
  }
  // Templates write BOS as text; the tokenizer adds it as a token instead (it would not turn
  // the text "<s>" back into the control token).
  if (!bos.empty() && text.starts_with(bos)) text.erase(0, bos.size());
  return text;
}

RequestParams PromptBuilder::build(const CompletionRequest& r) const {
  const int32_t vocab_size = model_->info().vocab_size;
  RequestParams p;
  if (r.chat) p.prompt = model_->tokenize(render_chat(r.messages), model_->loaded().vocab.add_bos);
  else if (!r.prompt_tokens.empty()) p.prompt = r.prompt_tokens;
  else p.prompt = model_->tokenize(r.prompt, model_->loaded().vocab.add_bos);
  check_token_ids(p.prompt, vocab_size, r.chat ? "messages" : "prompt");
  if (p.prompt.empty()) throw ApiError(400, "the prompt is empty", "prompt", "invalid_value");

  const int32_t prompt_length = int32_t(p.prompt.size());
  if (prompt_length >= context_length_)
    throw ApiError(400,
                   "the prompt is " + std::to_string(prompt_length) + " tokens, but the context holds " +
                       std::to_string(context_length_) + " including at least one generated token",
                   r.chat ? "messages" : "prompt", "context_length_exceeded");
  if (r.max_tokens && *r.max_tokens > context_length_)
    throw ApiError(400, "'max_tokens' must be at most the context length, " + std::to_string(context_length_),
                   "max_tokens", "invalid_value");
  // Generation stops where the context is full: finish_reason "length", as when max_tokens ends it.
  const int32_t room = context_length_ - prompt_length;
  p.max_tokens = std::min(r.max_tokens.value_or(r.chat ? room : 16), room);

  p.sampling = r.sampling;
  p.presence_penalty = r.presence_penalty;
  p.frequency_penalty = r.frequency_penalty;
  std::vector<int32_t> biased;
  for (const auto& [id, bias] : r.logit_bias) biased.push_back(id);
  check_token_ids(biased, vocab_size, "logit_bias");
  p.logit_bias = r.logit_bias;
  p.logprobs = r.logprobs;
  p.json_object = r.json_object;
  // The engine ends a request without generating only once it has scored the prompt, so an
  // echo of max_tokens 0 has it scored whether or not the client asked for the logprobs.
  p.prompt_logprobs = r.echo && (r.logprobs >= 0 || p.max_tokens == 0);
  if (p.prompt_logprobs) p.logprobs = std::max(r.logprobs, 0);
  return p;
}

}  // namespace lumen::server
