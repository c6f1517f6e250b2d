#pragma once
// Log-probabilities of the model's next-token distribution, as OpenAI's `logprobs` reports them:
// the log-softmax of the raw logits, before logit bias, penalties, temperature or truncation
// change what the sampler draws from.
#include <cstdint>
#include <vector>

namespace lumen {

struct TokenLogprob {
  int32_t token;
  float logprob;
};

// A token of a text that was scored rather than generated (a prompt's), with its alternatives.
struct ScoredToken {
  int32_t token;
  float logprob;
  std::vector<TokenLogprob> top;
};

// At most this many alternatives per token (OpenAI's limit for chat's top_logprobs).
constexpr int32_t kMaxTopLogprobs = 20;

// The k most likely tokens with their log-probabilities, most likely first (lower id first on
// ties). k is clamped to n; log_sum_exp is the logits' normalizer (kernels/ops.h).
std::vector<TokenLogprob> top_logprobs(const float* logits, int32_t n, int32_t k, double log_sum_exp);

}  // namespace lumen
