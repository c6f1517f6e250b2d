#include "runtime/generator.h"

#include "util/error.h"

namespace lumen {
double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void check_prompt_fits(size_t n, int32_t context) {
  if (n > size_t(context)) fail("prompt of ", n, " tokens does not fit the context of ", context, " tokens");
}

Generator::Generator(SequenceRunner& runner, int32_t bos_id, int32_t eos_id)
    : runner_(runner), bos_id_(bos_id), eos_id_(eos_id), logits_(runner.config().vocab_size) {}

StopReason Generator::generate(std::span<const int32_t> prompt, int32_t max_new_tokens, Sampler& sampler,
                               const std::function<void(int32_t)>& on_token, std::vector<int32_t>& tokens,
                               GenerationStats& stats, JsonConstraint* json) {
  const int32_t context = runner_.context_length();
  if (prompt.empty()) fail("the prompt must hold at least one token (BOS)");
  check_prompt_fits(prompt.size(), context);
  if (max_new_tokens < 0) fail("token budget ", max_new_tokens, " is negative");
  tokens.assign(prompt.begin(), prompt.end());
  tokens.reserve(prompt.size() + size_t(max_new_tokens));
  stats = {};
  stats.prompt_tokens = int32_t(prompt.size());

  auto start = std::chrono::steady_clock::now();
  runner_.forward(prompt, 0, logits_.data());
  stats.prompt_seconds = seconds_since(start);

  if (max_new_tokens == 0) return StopReason::TokenLimit;
  start = std::chrono::steady_clock::now();
  StopReason reason = StopReason::TokenLimit;
  for (int32_t n = 0; n < max_new_tokens; ++n) {
    if (json) json->mask(logits_.data());
    const int32_t next = sampler.sample(logits_.data(), tokens);
    if (json) json->accept(next);
    if (next == eos_id_ || next == bos_id_) {
      reason = StopReason::EndOfSequence;
      break;
    }
    tokens.push_back(next);
    ++stats.generated_tokens;
    on_token(next);
    if (n + 1 == max_new_tokens) break;
    const int32_t pos = int32_t(tokens.size()) - 1;
    if (pos >= context) {
      reason = StopReason::ContextFull;
      break;
    }
    runner_.decode(tokens[pos], pos, logits_.data());
  }
  stats.generate_seconds = seconds_since(start);
  return reason;
}

}  // namespace lumen
