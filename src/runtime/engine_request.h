#pragma once
// One request as the engine holds it (runtime/engine.cpp's loop), and how it picks its next token
// and scores its prompt: what touches a request alone, apart from the scheduling around it.
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "models/decoder.h"
#include "runtime/engine.h"
#include "runtime/json_constraint.h"
#include "runtime/logprobs.h"
#include "runtime/sampler.h"

namespace lumen::engine {

struct Request {
  RequestId id = 0;
  RequestParams params;
  TokenCallback on_token;
  Sampler sampler;
  std::vector<int32_t> tokens;         // the prompt, then every generated token
  int32_t computed = 0;                // positions whose keys and values are in the cache
  std::vector<int32_t> blocks;         // block table
  int32_t dropped = 0;                 // leading blocks given back: out of a sliding window
  int32_t published = 0;               // leading full blocks offered to the prefix cache
  int32_t cached_prompt_tokens = 0;    // prompt positions taken from the prefix cache
  int32_t generated = 0;
  std::vector<int32_t> counts;         // per token id, how often it was generated (OpenAI penalties)
  std::vector<float> logits;
  std::vector<float> raw_logits;       // with logprobs: the logits before the sampler changes them
  float next_logprob = 0;              // ... and, for the next event, the drawn token's log-probability
  std::vector<TokenLogprob> top;       // ... and the most likely tokens
  std::vector<float> chunk_logits;     // prompt_logprobs: every row's logits of a prefill chunk
  std::vector<ScoredToken> scored;     // ... prompt tokens 1.. scored so far, for the first event
  bool scored_sent = false;            // ... the first event has gone
  bool preempted = false;              // gave its blocks back; returns to the queue after this step
  bool leads = false;                  // the rest of its group waits for its prompt (submit_group)
  std::optional<JsonConstraint> json;  // JSON mode
  bool done = false;                   // finished or cancelled: no further events

  Request(RequestParams p, TokenCallback cb, int32_t vocab)
      : params(std::move(p)), on_token(std::move(cb)), sampler(params.sampling, vocab), tokens(params.prompt) {}

  // The next token from `logits`: logprobs noted first (from the raw logits), then logit bias,
  // OpenAI's presence/frequency penalties, JSON mode's mask and the sampler's chain.
  int32_t sample();
  // Whether the next forward must give every row's logits: a prompt to score that is not scored
  // to its end yet (after a preemption the prompt runs again, but is scored once).
  bool scores_prompt() const;
  // Scores the prompt tokens that step s's rows (in chunk_logits) predict.
  void score_prompt(const SequenceStep& s, int32_t vocab);
  bool wants_token() const { return params.max_tokens > 0; }
  // Whether its part of the step just run reached its last known token (after `computed` was
  // advanced): then it has logits to sample from. A scored prompt chunk short of the end has
  // logits too, but only to score.
  bool reached_end(const SequenceStep& s) const { return s.logits && computed == int32_t(tokens.size()); }
};

}  // namespace lumen::engine
