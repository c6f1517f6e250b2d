#pragma once
// Perplexity and the distance of one model's next-token distributions from a base model's
// (llama-perplexity's method): the text is cut into windows of `context` tokens, each starting
// with BOS, and only the second half of each window is scored, so every scored token has at
// least context/2 tokens of history.
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace lumen {

// The base model's log-probabilities at every scored position, with the tokens they were
// computed on (a comparison on different tokens would be meaningless).
struct BaseLogProbs {
  int32_t vocab = 0;
  std::vector<int32_t> tokens;
  std::vector<float> log_probs;  // [scored positions][vocab]

  void save(const std::string& path) const;
  static BaseLogProbs load(const std::string& path);
};

struct PerplexityResult {
  int64_t scored = 0;
  double perplexity = 0;
  double perplexity_stderr = 0;  // of the perplexity, by the delta method
  // Against a base model, when one was given:
  double kl_divergence = 0;      // mean KL(base || this), nats
  double kl_stderr = 0;
  double top1_agreement = 0;     // fraction of positions where both argmaxes agree
};

// Logits of every position of one window (tokens.size() x vocab floats).
using WindowLogits = std::function<std::vector<float>(std::span<const int32_t> window)>;

// Scores `tokens` (without BOS) in windows of `context`. With `base`, also measures the
// divergence from it; with `record`, stores this model's log-probabilities there.
PerplexityResult evaluate_perplexity(std::span<const int32_t> tokens, int32_t context, int32_t bos, int32_t vocab,
                                     const WindowLogits& logits, const BaseLogProbs* base, BaseLogProbs* record);

}  // namespace lumen
