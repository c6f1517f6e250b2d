#include "runtime/logprobs.h"

#include <algorithm>

namespace lumen {

std::vector<TokenLogprob> top_logprobs(const float* logits, int32_t n, int32_t k, double log_sum_exp) {
  k = std::clamp(k, 0, n);
  // A min-heap of the k best so far: one pass over the vocabulary, k log k per replacement.
  const auto better = [](const TokenLogprob& a, const TokenLogprob& b) {
    return a.logprob > b.logprob || (a.logprob == b.logprob && a.token < b.token);
  };
  std::vector<TokenLogprob> top;
  top.reserve(size_t(k));
  for (int32_t i = 0; i < n && k > 0; ++i) {
    const TokenLogprob c{i, logits[i]};
    if (int32_t(top.size()) < k) {
      top.push_back(c);
      std::push_heap(top.begin(), top.end(), better);
    } else if (better(c, top.front())) {
      std::pop_heap(top.begin(), top.end(), better);
      top.back() = c;
      std::push_heap(top.begin(), top.end(), better);
    }
  }
  std::sort_heap(top.begin(), top.end(), better);
  for (TokenLogprob& t : top) t.logprob = float(double(t.logprob) - log_sum_exp);
  return top;
}

}  // namespace lumen
