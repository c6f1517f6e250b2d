#pragma once
// The bookkeeping of beam search, apart from the model that feeds it logits: which beams live on,
// which hypotheses are finished, when to stop. It follows Hugging Face's BeamSearchScorer with its
// defaults, so that a search here and one there pick the same tokens:
//
// - A candidate is a live beam extended by one token, scored by the sum of its tokens' logprobs
//   (the log-softmax of the raw logits). Each step ranks the best (1 + end tokens) x beams
//   candidates, enough that `beams` of them are not end tokens.
// - Going down the ranking, an end token (EOS, or BOS, which llama2.c models emit between
//   stories) finishes a hypothesis if it ranks among the first `beams`; any other token makes a
//   live beam, until there are `beams` of them.
// - A finished hypothesis scores sum_logprobs / length ^ length_penalty, length counting the
//   generated tokens with the end token; the best `beams` of them are kept.
// - Early stopping is HF's default (early_stopping=False), a heuristic: the search is done once
//   `beams` hypotheses are finished and the worst of them scores at least as well as the best
//   candidate of this step would at this step's length. (HF's early_stopping=True would stop as
//   soon as `beams` are finished; "never" would bound what longer beams could still reach.)
// - When the token budget ends the search first, the live beams join the finished hypotheses,
//   scored by their own length.
#include <cstdint>
#include <span>
#include <vector>

namespace lumen {

struct BeamHypothesis {
  std::vector<int32_t> tokens;  // the generated tokens, without the end token
  double sum_logprobs = 0;      // of those tokens, and of the end token if one finished it
  double score = 0;             // sum_logprobs / length ^ length_penalty
  bool ended = false;           // finished by an end token, not by the token budget
};

// A live beam of the next step: the live beam it extends (its index in this step) and the token.
struct BeamChoice {
  int32_t parent;
  int32_t token;
};

class BeamScorer {
 public:
  // end_tokens: the ids that finish a hypothesis (duplicates are fine).
  BeamScorer(int32_t beams, double length_penalty, std::vector<int32_t> end_tokens);

  // logits: live() rows of `vocab` raw logits, row i for live beam i (at the start one row, the
  // prompt's). Chooses the next live beams, best first, and returns them (at most `beams`; none
  // once every candidate ends). Their index in the returned span is their index next step.
  std::span<const BeamChoice> step(const float* logits, int32_t vocab);

  bool done() const { return done_; }
  int32_t live() const { return int32_t(live_.size()); }

  // The best hypotheses, best first, at most `beams`: the finished ones, and the live beams too
  // unless the search was done.
  std::vector<BeamHypothesis> finish() const;

 private:
  struct Beam {
    std::vector<int32_t> tokens;
    double sum_logprobs;
  };
  double score(double sum_logprobs, size_t length) const;
  // Keeps the `beams` best finished hypotheses, best first (a tie keeps the earlier one).
  static void keep(std::vector<BeamHypothesis>& kept, BeamHypothesis h, int32_t beams);

  int32_t beams_;
  double length_penalty_;
  std::vector<int32_t> end_tokens_;
  std::vector<Beam> live_, next_;
  std::vector<BeamChoice> choices_;
  std::vector<BeamHypothesis> finished_;
  bool done_ = false;
};

}  // namespace lumen
