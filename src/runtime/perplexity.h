#pragma once
// Perplexity and the distance of one model's next-token distributions from a base model's,
// measured as llama-perplexity measures them, so that its numbers and lumen's mean the same:
// the text's tokens (with the BOS the vocabulary adds) are cut into windows of `context` tokens,
// each window's first token is replaced by BOS, and only the second half of each window is
// scored (positions context/2 .. context-2 predicting the next token), so every scored token has
// at least context/2 tokens of history.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace lumen {

// The base model's log-probabilities at every scored position, in llama-perplexity's
// --kl-divergence-base file layout (either tool reads the other's files): "_logits_", then
// int32 context, vocab, windows; the windows' tokens as the text has them (int32, windows x
// context); then per scored position a row of u16: f32 scale, f32 min_log_prob, and one u16 q
// per token (padded to an even count) with log p = scale * q + min_log_prob. Log-probabilities
// more than 16 nats below the top one are all stored as min_log_prob.
struct BaseLogProbs {
  int32_t context = 0;
  int32_t vocab = 0;
  int32_t windows = 0;
  std::vector<int32_t> tokens;
  std::vector<uint16_t> rows;  // [windows * scored_per_window()][row_size()]

  int32_t scored_per_window() const { return context - 1 - context / 2; }
  size_t row_size() const { return 2 * ((size_t(vocab) + 1) / 2) + 4; }
  // Appends the row of one position's logits.
  void append_row(const float* logits);
  // The stored log-probabilities of scored position `i`.
  void log_probs(size_t i, float* out) const;

  void save(const std::string& path) const;
  static BaseLogProbs load(const std::string& path);
};

struct PerplexityResult {
  int64_t scored = 0;
  double perplexity = 0;
  double perplexity_stderr = 0;  // of the perplexity, by the delta method
  // Against a base model, when one was given (llama-perplexity's "Mean KLD" and "Same top p"):
  double kl_divergence = 0;      // mean KL(base || this), nats, over the tokens within 16 nats of base's top
  double kl_stderr = 0;
  double top1_agreement = 0;     // fraction of positions where both argmaxes (first of equals) agree
};

// Logits of every position of one window (tokens.size() x vocab floats).
using WindowLogits = std::function<std::vector<float>(std::span<const int32_t> window)>;

// Scores `tokens` (as tokenized, BOS included when the vocabulary adds one) in windows of
// `context`; bos < 0: the vocabulary has none and windows start as the text does. With `base`
// (computed with the same context on the same tokens), also measures the divergence from it;
// with `record`, stores this model's log-probabilities there.
PerplexityResult evaluate_perplexity(std::span<const int32_t> tokens, int32_t context, int32_t bos, int32_t vocab,
                                     const WindowLogits& logits, const BaseLogProbs* base, BaseLogProbs* record);

}  // namespace lumen
