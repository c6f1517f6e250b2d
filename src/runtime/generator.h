#pragma once
// The generation loop of one sequence: prefill the prompt as a batch, then decode one token at
// a time — sample, hand the token to the caller, feed it back — until the end-of-sequence token,
// the token budget, or the end of the context.
#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "models/decoder.h"
#include "runtime/json_constraint.h"
#include "runtime/sampler.h"

namespace lumen {

struct GenerationStats {
  int32_t prompt_tokens = 0;
  double prompt_seconds = 0;
  int32_t generated_tokens = 0;
  double generate_seconds = 0;  // from the first sampled token to the last
};

// Seconds from `start` to now.
double seconds_since(std::chrono::steady_clock::time_point start);

// Fails with a one-line error unless a prompt of n tokens fits a context of `context` tokens.
void check_prompt_fits(size_t n, int32_t context);

enum class StopReason { EndOfSequence, TokenLimit, ContextFull };

class Generator {
 public:
  Generator(SequenceRunner& runner, int32_t bos_id, int32_t eos_id);

  // Generates up to max_new_tokens after `prompt` (which must hold at least one token). Each
  // new token is passed to on_token as soon as it is sampled; the end-of-sequence token (or
  // BOS, which llama2.c models emit between stories) ends the run and is not passed on.
  // Returns why it stopped; `tokens` receives the prompt followed by the generated tokens.
  // With `json`, every draw keeps to JSON mode (runtime/json_constraint.h).
  StopReason generate(std::span<const int32_t> prompt, int32_t max_new_tokens, Sampler& sampler,
                      const std::function<void(int32_t)>& on_token, std::vector<int32_t>& tokens,
                      GenerationStats& stats, JsonConstraint* json = nullptr);

 private:
  SequenceRunner& runner_;
  int32_t bos_id_, eos_id_;
  std::vector<float> logits_;
};

}  // namespace lumen
