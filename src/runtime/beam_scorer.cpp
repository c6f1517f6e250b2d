#include "runtime/beam_scorer.h"

#include <algorithm>
#include <cmath>

#include "kernels/ops.h"
#include "runtime/logprobs.h"
#include "util/error.h"

namespace lumen {

BeamScorer::BeamScorer(int32_t beams, double length_penalty, std::vector<int32_t> end_tokens)
    : beams_(beams), length_penalty_(length_penalty), end_tokens_(std::move(end_tokens)), live_(1, Beam{{}, 0.0}) {
  if (beams < 1) fail("beam search needs at least one beam, not ", beams);
  if (!std::isfinite(length_penalty)) fail("length penalty ", length_penalty, " is not a finite number");
  std::sort(end_tokens_.begin(), end_tokens_.end());
  end_tokens_.erase(std::unique(end_tokens_.begin(), end_tokens_.end()), end_tokens_.end());
}

double BeamScorer::score(double sum_logprobs, size_t length) const {
  return sum_logprobs / std::pow(double(length), length_penalty_);
}

void BeamScorer::keep(std::vector<BeamHypothesis>& kept, BeamHypothesis h, int32_t beams) {
  const auto at = std::upper_bound(kept.begin(), kept.end(), h.score,
                                   [](double s, const BeamHypothesis& k) { return s > k.score; });
  kept.insert(at, std::move(h));
  if (int32_t(kept.size()) > beams) kept.pop_back();
}

std::span<const BeamChoice> BeamScorer::step(const float* logits, int32_t vocab) {
  if (done_) fail("beam search is done: no step follows");
  struct Candidate {
    double sum_logprobs;
    int32_t parent, token;
  };
  // A beam's best (1 + end tokens) x beams tokens hold, whatever the others', every candidate that
  // can rank among the best that many overall.
  const int32_t per_beam = int32_t(1 + end_tokens_.size()) * beams_;
  std::vector<Candidate> candidates;
  for (int32_t b = 0; b < live(); ++b) {
    const float* row = logits + size_t(b) * vocab;
    const double normalizer = log_sum_exp(row, vocab);
    for (const TokenLogprob& t : top_logprobs(row, vocab, per_beam, normalizer))
      candidates.push_back({live_[b].sum_logprobs + (double(row[t.token]) - normalizer), b, t.token});
  }
  // Best first; ties go to the earlier beam, then the lower token id, so the order is defined.
  std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    if (a.sum_logprobs != b.sum_logprobs) return a.sum_logprobs > b.sum_logprobs;
    return a.parent != b.parent ? a.parent < b.parent : a.token < b.token;
  });

  const size_t length = live_[0].tokens.size() + 1;  // every live beam has the same length
  next_.clear();
  choices_.clear();
  for (size_t rank = 0; rank < candidates.size() && int32_t(next_.size()) < beams_; ++rank) {
    const Candidate& c = candidates[rank];
    const Beam& parent = live_[c.parent];
    if (std::binary_search(end_tokens_.begin(), end_tokens_.end(), c.token)) {
      if (rank < size_t(beams_))
        keep(finished_, {parent.tokens, c.sum_logprobs, score(c.sum_logprobs, length), true}, beams_);
      continue;
    }
    next_.push_back({parent.tokens, c.sum_logprobs});
    next_.back().tokens.push_back(c.token);
    choices_.push_back({c.parent, c.token});
  }
  // HF's early_stopping=False: the best candidate of this step, at this step's length, cannot
  // beat the worst of `beams` finished hypotheses.
  if (int32_t(finished_.size()) == beams_ && finished_.back().score >= score(candidates[0].sum_logprobs, length))
    done_ = true;
  if (next_.empty()) done_ = true;
  live_.swap(next_);
  return choices_;
}

std::vector<BeamHypothesis> BeamScorer::finish() const {
  std::vector<BeamHypothesis> best = finished_;
  if (!done_)
    for (const Beam& b : live_)
      if (!b.tokens.empty())  // empty only before the first step: nothing was generated
        keep(best, {b.tokens, b.sum_logprobs, score(b.sum_logprobs, b.tokens.size()), false}, beams_);
  return best;
}

}  // namespace lumen
