#pragma once
// Turns logits into the next token. The chain runs in llama.cpp's order: repetition penalty →
// top-k → top-p → min-p → temperature → draw. Temperature 0 is greedy (argmax, lowest id on
// ties, as llama2.c does). A seed makes the draws reproducible.
#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace lumen {

struct SamplingParams {
  float temperature = 0.8f;
  int32_t top_k = 40;         // 0: off
  float top_p = 0.95f;        // 1: off
  float min_p = 0.05f;        // 0: off
  float repeat_penalty = 1.0f;  // 1: off
  int32_t repeat_last_n = 64;   // how many recent tokens the penalty looks at
  uint64_t seed = 0;
};

class Sampler {
 public:
  Sampler(SamplingParams params, int32_t vocab_size);

  // `recent` are the tokens so far (for the repetition penalty). `logits` is modified.
  int32_t sample(float* logits, std::span<const int32_t> recent);

  const SamplingParams& params() const { return params_; }

 private:
  double uniform();  // [0, 1), the same sequence on every platform for a given seed
  // Whether top-k keeps fewer tokens than the vocabulary: then only those are sorted.
  bool top_k_cuts() const { return params_.top_k > 0 && params_.top_k < int32_t(candidates_.size()); }
  void sort_candidates();  // all of them

  SamplingParams params_;
  std::mt19937_64 rng_;
  struct Candidate {
    int32_t id;
    float logit;
    float prob;
  };
  std::vector<Candidate> candidates_;  // sized once: no allocation per token
  std::vector<Candidate> spare_;       // the radix sort's other buffer, when the sort takes them all
  std::vector<uint8_t> penalised_;     // marks tokens already penalised this step
};

int32_t argmax(const float* x, int32_t n);

}  // namespace lumen
