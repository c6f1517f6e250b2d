#pragma once
// The serving engine: many requests share one model and one paged KV cache. A loop thread runs
// vLLM's cycle — schedule → execute one batched forward → sample → emit — so requests join and
// leave the running batch at every step (continuous batching), and long prompts are prefilled in
// chunks mixed with other requests' decode steps.
//
// Thread model: submit(), cancel() and metrics() may be called from any thread; callbacks run on
// the engine's loop thread and must be quick (queue the text to the HTTP connection, don't block).
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "runtime/kv_cache.h"
#include "runtime/logprobs.h"
#include "runtime/sampler.h"

namespace lumen {

struct LoadedModel;

struct EngineOptions {
  int32_t max_sequences = 4;    // requests decoding at once (--parallel)
  int32_t context_length = 0;   // per request; 0: the model's
  int32_t block_size = 16;      // positions per KV block
  int32_t kv_blocks = 0;        // 0: enough for max_sequences full contexts
  int32_t max_queued = 64;      // waiting requests beyond this are refused (HTTP 503)
  int32_t prefill_chunk = 64;   // prompt tokens one request may prefill per step
  int32_t threads = 0;          // 0: every hardware thread
  KvCacheTypes cache_types;     // f16 keys and values unless set
};

enum class FinishReason { None, Length, EndOfSequence, Cancelled, ContextFull };

struct RequestParams {
  std::vector<int32_t> prompt;       // BOS included; must fit the context
  int32_t max_tokens = 16;           // ≥ 1
  SamplingParams sampling;
  float presence_penalty = 0.0f;     // OpenAI: subtract once from every token already generated
  float frequency_penalty = 0.0f;    // OpenAI: subtract per occurrence among generated tokens
  std::map<int32_t, float> logit_bias;  // added to the logit of the token id
  int32_t logprobs = -1;             // ≥ 0: events carry the token's log-probability and this many
                                     // most likely alternatives (at most kMaxTopLogprobs)
  // With logprobs ≥ 0: the first event also scores the prompt, each token after the first
  // given those before it (the prompt is then computed whole, not taken from the prefix cache).
  // max_tokens may then be 0: the request ends once its prompt is scored.
  bool prompt_logprobs = false;
  // JSON mode (OpenAI's response_format json_object): only tokens that keep the output a prefix
  // of a JSON object are drawn, and once the object is complete, only the end of text
  // (runtime/json_constraint.h). A request ended by max_tokens may leave the object unfinished.
  bool json_object = false;
};

// One event per generated token; the last event of a request has finish != None (its token is
// -1 when the request ended without a new token, e.g. end of sequence or cancellation).
struct TokenEvent {
  int32_t token = -1;
  FinishReason finish = FinishReason::None;
  int32_t prompt_tokens = 0;         // how many prompt tokens the request had
  int32_t cached_prompt_tokens = 0;  // of those, how many came from the prefix cache (not prefilled)
  // With RequestParams::logprobs ≥ 0 and a token: its log-probability and the alternatives.
  float logprob = 0.0f;
  std::vector<TokenLogprob> top_logprobs;
  // With RequestParams::prompt_logprobs, on the first event only: prompt tokens 1, 2, ...
  std::vector<ScoredToken> prompt_logprobs;
};

// Return false to cancel the request (client disconnected, stop string seen): the engine then
// frees its KV blocks and sends no further events, not even a final one.
using TokenCallback = std::function<bool(const TokenEvent&)>;

using RequestId = uint64_t;

struct EngineMetrics {
  uint64_t requests_total = 0, requests_finished = 0, requests_rejected = 0;
  uint64_t requests_cancelled_queued = 0;  // taken out of the queue by cancel() (also counted as finished)
  uint64_t prompt_tokens_total = 0, prompt_tokens_cached = 0, generated_tokens_total = 0;
  int32_t running = 0, queued = 0;  // gauges, set after each step; running also as a request ends,
                                    // queued also at once by submit() and cancel()
  int32_t kv_blocks_total = 0, kv_blocks_used = 0, kv_blocks_cached = 0;  // cached: free but holding a prefix
  uint64_t preemptions = 0;
  double generated_tokens_per_second = 0;  // over the last few seconds
};

class Engine {
 public:
  Engine(const LoadedModel& model, EngineOptions options);
  ~Engine();  // finishes nothing: pending requests get FinishReason::Cancelled
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a request and returns its id; returns nothing (and calls nothing) when the queue is
  // full. Throws lumen::Error for a request that can never run (prompt longer than the context,
  // bad params).
  std::optional<RequestId> submit(RequestParams params, TokenCallback on_token);

  // Queues requests that share one prompt (OpenAI's n and best_of: one prompt sampled several
  // ways), all of them or, when the queue has no room for them all, none. The prompt is computed
  // once: the first request runs as any other, and the others wait outside the queue until its
  // prompt is in the cache, then start from the prefix cache, recomputing only the prompt's last,
  // partly filled block (prompts to be scored skip the prefix cache, so those start at once).
  // Throws lumen::Error as submit() does, for prompts that differ, and for a group larger than
  // the whole queue (EngineOptions::max_queued).
  std::optional<std::vector<RequestId>> submit_group(std::vector<RequestParams> params,
                                                     std::vector<TokenCallback> on_token);

  // Cancels a request (its client has gone); it gets no further events. One waiting to start
  // (or waiting for its group's prompt) leaves the queue at once, never prefilled, and cancel()
  // returns true. One running ends before
  // the engine's next step, which frees its KV blocks; cancel() returns false, as it does for a
  // request that has already ended (then nothing happens).
  bool cancel(RequestId id);

  EngineMetrics metrics() const;
  int32_t context_length() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lumen
