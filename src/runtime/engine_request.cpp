#include "runtime/engine_request.h"

#include <algorithm>

#include "kernels/ops.h"

namespace lumen::engine {

bool Request::scores_prompt() const {
  return params.prompt_logprobs && !scored_sent && computed < int32_t(params.prompt.size());
}

// Row i (position pos + i) gives the distribution of the token at pos + i + 1. The last row of
// the prompt predicts the first generated token, which sample() handles; its logits go where
// sample() reads them.
void Request::score_prompt(const SequenceStep& s, int32_t vocab) {
  const int32_t prompt = int32_t(params.prompt.size());
  for (int32_t i = 0; i < int32_t(s.tokens.size()); ++i) {
    const float* row = &chunk_logits[size_t(i) * vocab];
    const int32_t next = s.pos + i + 1;
    if (next < prompt && next > int32_t(scored.size())) {
      const double lse = log_sum_exp(row, vocab);
      scored.push_back({tokens[next], float(double(row[tokens[next]]) - lse),
                        top_logprobs(row, vocab, params.logprobs, lse)});
    }
    if (next == int32_t(tokens.size())) std::copy_n(row, vocab, logits.data());
  }
}

int32_t Request::sample() {
  float* x = logits.data();
  const int32_t n = int32_t(logits.size());
  double normalizer = 0;
  if (params.logprobs >= 0) {
    raw_logits.assign(x, x + n);
    normalizer = log_sum_exp(x, n);
    top = top_logprobs(x, n, params.logprobs, normalizer);
  }
  for (const auto& [t, bias] : params.logit_bias) x[t] += bias;
  if (params.presence_penalty != 0.0f || params.frequency_penalty != 0.0f) {
    if (counts.empty()) counts.assign(size_t(n), 0);
    for (size_t i = params.prompt.size(); i < tokens.size(); ++i) {
      const int32_t t = tokens[i];
      if (counts[t]++ == 0) x[t] -= params.presence_penalty;
    }
    for (size_t i = params.prompt.size(); i < tokens.size(); ++i) {
      const int32_t t = tokens[i];
      if (counts[t] > 0) {
        x[t] -= params.frequency_penalty * float(counts[t]);
        counts[t] = 0;
      }
    }
  }
  if (json) json->mask(x);
  const int32_t next = sampler.sample(x, tokens);
  if (json) json->accept(next);
  if (params.logprobs >= 0) next_logprob = float(double(raw_logits[next]) - normalizer);
  return next;
}

}  // namespace lumen::engine
