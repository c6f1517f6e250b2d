#include "runtime/engine.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <iterator>
#include <mutex>
#include <thread>
#include <vector>

#include "formats/loaded_model.h"
#include "models/decoder.h"
#include "runtime/block_manager.h"
#include "runtime/engine_request.h"
#include "util/error.h"

namespace lumen {
namespace {

using Clock = std::chrono::steady_clock;
using engine::Request;

}  // namespace

struct Engine::Impl {
  const LoadedModel& model;
  EngineOptions options;
  int32_t context;
  ThreadPool pool;
  Decoder decoder;
  KvStore kv;
  BlockManager blocks;

  mutable std::mutex mutex;  // guards waiting, held, cancelling, next_id, stop and the counters read by metrics()
  std::condition_variable wake;
  std::deque<std::unique_ptr<Request>> waiting;
  // Requests of a group (submit_group) waiting for its first request's prompt, with that one's id.
  std::vector<std::pair<RequestId, std::unique_ptr<Request>>> held;
  std::vector<RequestId> cancelling;  // cancel()ed when not waiting: dropped before the next step if running
  RequestId next_id = 0;
  std::vector<std::unique_ptr<Request>> running;  // in order of admission
  bool stop = false;
  EngineMetrics counters;
  std::deque<std::pair<Clock::time_point, int32_t>> recent_steps;  // tokens generated per step
  std::thread loop_thread;
  // One step's batch, reused from step to step so the loop does not allocate once warmed up.
  std::vector<SequenceStep> batch;
  std::vector<Request*> members;
  std::vector<int32_t> next_tokens;  // sampled per member
  // JSON mode's view of the vocabulary, made on the first request that asks for it.
  std::once_flag json_bytes_made;
  std::shared_ptr<const TokenBytes> json_bytes;

  Impl(const LoadedModel& m, EngineOptions o);
  void loop();
  bool step();
  void admit();
  bool erase_waiting(RequestId id);
  void release_group(Request& leader);
  void release_group_locked(RequestId leader);
  int32_t queued() const { return int32_t(waiting.size() + held.size()); }
  void drop_cancelled();
  bool ensure_blocks(Request& r, int32_t positions);
  bool reserve(Request& r, int32_t positions, const std::vector<Request*>& in_batch);
  void requeue_preempted();
  void preempt(Request& r);
  void release(Request& r);
  void end_request(Request& r);  // released, counted finished, gauges updated (r is in running)
  void publish_full_blocks(Request& r);
  void drop_out_of_window(Request& r);
  bool emit(Request& r, const TokenEvent& e);
  void finish_step(int32_t generated);
};

namespace {

int32_t default_threads() { return int32_t(std::max(1u, std::thread::hardware_concurrency())); }

EngineOptions checked(EngineOptions o, const ModelConfig& c) {
  if (o.max_sequences < 1) fail("--parallel must be at least 1");
  if (o.context_length < 0 || o.context_length > c.context_length)
    fail("context size ", o.context_length, " is outside the model's 0..", c.context_length);
  if (o.context_length == 0) o.context_length = c.context_length;
  if (o.block_size < 1 || o.prefill_chunk < 1 || o.max_queued < 0) fail("engine options must be positive");
  // Room for every running sequence at full context, so admission alone never deadlocks. With a
  // sliding window of W a sequence holds at most blocks_for(W + prefill_chunk) + 2 blocks at once
  // (drop_out_of_window), however long it runs.
  int32_t per_sequence = blocks_for(o.context_length, o.block_size);
  if (c.sliding_window > 0)
    per_sequence = std::min(per_sequence, blocks_for(c.sliding_window + o.prefill_chunk, o.block_size) + 2);
  if (o.kv_blocks == 0) o.kv_blocks = o.max_sequences * per_sequence;
  if (o.kv_blocks < per_sequence) fail("a KV cache of ", o.kv_blocks, " blocks cannot hold one full context");
  if (o.threads <= 0) o.threads = default_threads();
  return o;
}

}  // namespace

Engine::Impl::Impl(const LoadedModel& m, EngineOptions o)
    : model(m),
      options(checked(o, m.config)),
      context(options.context_length),
      pool(options.threads),
      decoder(m, context, options.prefill_chunk + options.max_sequences, pool),
      kv(m.config.n_layers, options.kv_blocks, options.block_size, m.config.n_kv_heads, m.config.head_dim(),
         options.cache_types),
      blocks(options.kv_blocks, options.block_size) {
  counters.kv_blocks_total = options.kv_blocks;
  loop_thread = std::thread([this] { loop(); });
}

Engine::Engine(const LoadedModel& model, EngineOptions options) : impl_(std::make_unique<Impl>(model, options)) {}

Engine::~Engine() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stop = true;
  }
  impl_->wake.notify_all();
  impl_->loop_thread.join();
  TokenEvent cancelled;
  cancelled.finish = FinishReason::Cancelled;
  for (auto& r : impl_->running) r->on_token(cancelled);
  for (auto& r : impl_->waiting) r->on_token(cancelled);
  for (auto& held : impl_->held) held.second->on_token(cancelled);
}

int32_t Engine::context_length() const { return impl_->context; }

namespace {

// What makes a request one the engine can never run.
void check_request(const RequestParams& params, const ModelConfig& c, int32_t context) {
  if (params.prompt.empty()) fail("the prompt must hold at least one token");
  if (int64_t(params.prompt.size()) > context)
    fail("prompt of ", params.prompt.size(), " tokens does not fit the context of ", context, " tokens");
  if (params.prompt_logprobs && params.logprobs < 0) fail("prompt_logprobs needs logprobs >= 0");
  if (params.max_tokens < (params.prompt_logprobs ? 0 : 1))
    fail("max_tokens ", params.max_tokens, " must be at least ", params.prompt_logprobs ? 0 : 1);
  for (int32_t t : params.prompt)
    if (t < 0 || t >= c.vocab_size) fail("token id ", t, " is outside the vocabulary (", c.vocab_size, ")");
  for (const auto& [t, bias] : params.logit_bias)
    if (t < 0 || t >= c.vocab_size) fail("logit_bias names token ", t, ", outside the vocabulary");
  if (params.logprobs > kMaxTopLogprobs) fail("logprobs ", params.logprobs, " is more than ", kMaxTopLogprobs);
}

}  // namespace

std::optional<RequestId> Engine::submit(RequestParams params, TokenCallback on_token) {
  std::vector<RequestParams> group(1);
  group[0] = std::move(params);
  const auto ids = submit_group(std::move(group), {std::move(on_token)});
  if (!ids) return std::nullopt;
  return ids->front();
}

std::optional<std::vector<RequestId>> Engine::submit_group(std::vector<RequestParams> params,
                                                           std::vector<TokenCallback> on_token) {
  const ModelConfig& c = impl_->model.config;
  if (params.empty() || params.size() != on_token.size()) fail("a request group needs one callback per request");
  for (const RequestParams& p : params) {
    check_request(p, c, impl_->context);
    if (p.prompt != params.front().prompt) fail("the requests of a group must share one prompt");
  }
  // Such a group could never be queued whole: waiting would not help, unlike a full queue.
  if (params.size() > 1 && int64_t(params.size()) > impl_->options.max_queued)
    fail("a group of ", params.size(), " requests is more than the queue holds (", impl_->options.max_queued, ")");
  const Vocab& vocab = impl_->model.vocab;
  const int32_t end_of_text = vocab.eos_id >= 0 ? vocab.eos_id : vocab.bos_id;
  std::vector<std::unique_ptr<Request>> requests;
  for (size_t i = 0; i < params.size(); ++i) {
    auto& r = requests.emplace_back(std::make_unique<Request>(std::move(params[i]), std::move(on_token[i]), c.vocab_size));
    if (!r->params.json_object) continue;
    if (end_of_text < 0) fail("JSON mode needs a vocabulary with an end-of-text token");
    std::call_once(impl_->json_bytes_made, [&] { impl_->json_bytes = token_bytes(vocab); });
    r->json.emplace(impl_->json_bytes, end_of_text);
  }
  // A prompt to be scored is computed by each request whole: nothing to wait for.
  const bool hold = !requests.front()->params.prompt_logprobs;
  std::vector<RequestId> ids;
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->queued() + int64_t(requests.size()) > impl_->options.max_queued) {
      impl_->counters.requests_rejected += requests.size();
      return std::nullopt;
    }
    for (auto& r : requests) {
      ids.push_back(r->id = impl_->next_id++);
      ++impl_->counters.requests_total;
      impl_->counters.prompt_tokens_total += r->tokens.size();
    }
    requests.front()->leads = hold && requests.size() > 1;
    for (size_t i = 0; i < requests.size(); ++i) {
      if (i == 0 || !hold) impl_->waiting.push_back(std::move(requests[i]));
      else impl_->held.emplace_back(ids.front(), std::move(requests[i]));
    }
    impl_->counters.queued = impl_->queued();
  }
  impl_->wake.notify_one();
  return ids;
}

// A waiting or held request is touched only under the mutex (admit() takes it out of the queue
// before using it), so it can be dropped from here; it holds no KV blocks (preemption gave them
// back).
// Any other request is left to the loop, which owns the running batch.
bool Engine::cancel(RequestId id) {
  std::lock_guard lock(impl_->mutex);
  if (impl_->erase_waiting(id)) return true;
  impl_->cancelling.push_back(id);
  return false;
}

// Under the mutex: takes request id out of the queue (or out of those held for their group's
// prompt), counted as cancelled there. A group's first request leaving the queue lets the
// others go on without it.
bool Engine::Impl::erase_waiting(RequestId id) {
  if (const auto it = std::find_if(waiting.begin(), waiting.end(), [&](const auto& r) { return r->id == id; });
      it != waiting.end()) {
    waiting.erase(it);
    release_group_locked(id);
  } else if (const auto h = std::find_if(held.begin(), held.end(), [&](const auto& r) { return r.second->id == id; });
             h != held.end()) {
    held.erase(h);
  } else {
    return false;
  }
  ++counters.requests_finished;
  ++counters.requests_cancelled_queued;
  counters.queued = queued();
  return true;
}

// The group's prompt is in the cache, or its first request has ended: the others join the head
// of the queue, in order, so that they are admitted while the prompt's blocks are still cached.
void Engine::Impl::release_group(Request& leader) {
  if (!leader.leads) return;
  leader.leads = false;
  std::lock_guard lock(mutex);
  release_group_locked(leader.id);
}

void Engine::Impl::release_group_locked(RequestId leader) {
  auto at = waiting.begin();
  for (auto& [lead, r] : held)
    if (lead == leader) at = std::next(waiting.insert(at, std::move(r)));
  std::erase_if(held, [](const auto& h) { return !h.second; });
}

// Ends the requests cancel() named while they were not waiting, before they cost another step: a
// long prompt's prefill stops at the chunk under way instead of running to its first token. The
// ids of requests that have already ended (cancel() is also called after a normal end) find
// nothing; one preempted back into the queue since is taken out of it.
void Engine::Impl::drop_cancelled() {
  std::vector<RequestId> ids;
  {
    std::lock_guard lock(mutex);
    if (cancelling.empty()) return;
    ids.swap(cancelling);
    std::erase_if(ids, [&](RequestId id) { return erase_waiting(id); });
  }
  for (auto& r : running)
    if (std::find(ids.begin(), ids.end(), r->id) != ids.end()) end_request(*r);
  std::erase_if(running, [](const auto& r) { return r->done; });
}

EngineMetrics Engine::metrics() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->counters;
}

void Engine::Impl::loop() {
  for (;;) {
    {
      std::unique_lock lock(mutex);
      wake.wait(lock, [&] { return stop || !waiting.empty() || !running.empty(); });
      if (stop) return;
    }
    admit();
    drop_cancelled();
    step();
  }
}

// Moves waiting requests into the running batch while there is a free slot, taking whatever
// prefix of their prompt the cache already holds.
void Engine::Impl::admit() {
  while (int32_t(running.size()) < options.max_sequences) {
    std::unique_ptr<Request> r;
    {
      std::lock_guard lock(mutex);
      if (waiting.empty()) return;
      r = std::move(waiting.front());
      waiting.pop_front();
    }
    const int32_t bs = options.block_size;
    // Only blocks wholly before the last known token: at least one token must run to give
    // logits. None for a prompt to be scored, whose every position must run.
    const int32_t reusable = r->params.prompt_logprobs ? 0 : (int32_t(r->tokens.size()) - 1) / bs;
    int32_t parent = -1;
    for (int32_t b = 0; b < reusable; ++b) {
      const auto hit = blocks.lookup(parent, std::span(r->tokens).subspan(size_t(b) * bs, bs));
      if (!hit) break;
      r->blocks.push_back(*hit);
      parent = *hit;
    }
    r->computed = r->published = int32_t(r->blocks.size());
    r->computed *= bs;
    drop_out_of_window(*r);
    if (r->generated == 0) r->cached_prompt_tokens = r->computed;
    {
      std::lock_guard lock(mutex);
      counters.prompt_tokens_cached += r->computed;
    }
    running.push_back(std::move(r));
  }
}

bool Engine::Impl::ensure_blocks(Request& r, int32_t positions) {
  while (int32_t(r.blocks.size()) * options.block_size < positions) {
    auto block = blocks.allocate();
    if (!block) return false;
    r.blocks.push_back(*block);
  }
  return true;
}

void Engine::Impl::release(Request& r) {
  for (size_t i = size_t(r.dropped); i < r.blocks.size(); ++i) blocks.release(r.blocks[i]);
  r.blocks.clear();
  r.dropped = 0;
}

// A sliding-window model's rows from position `computed` on read positions computed + 1 - W and
// later only, so the blocks wholly before that go back to the cache (published, they stay
// findable by prefix while nobody needs their space). A block is kept while the block after it is
// still to be published, since a block is published under its predecessor: publish() must see
// that block's own contents, not a reuse of its slot.
void Engine::Impl::drop_out_of_window(Request& r) {
  const int32_t window = model.config.sliding_window;
  if (window <= 0) return;
  const int32_t bs = options.block_size;
  const int32_t unread = std::max(0, r.computed + 1 - window) / bs;
  for (const int32_t end = std::min(unread, r.published - 1); r.dropped < end; ++r.dropped)
    blocks.release(r.blocks[size_t(r.dropped)]);
}

// Out of blocks: the request gives its blocks back and waits at the head of the queue; when it
// returns it recomputes its tokens (the prefix cache usually still holds most of them).
void Engine::Impl::preempt(Request& r) {
  release(r);
  r.computed = r.published = 0;
  r.preempted = true;
  std::lock_guard lock(mutex);
  ++counters.preemptions;
}

void Engine::Impl::publish_full_blocks(Request& r) {
  const int32_t bs = options.block_size;
  for (; r.published < r.computed / bs; ++r.published) {
    const int32_t parent = r.published == 0 ? -1 : r.blocks[r.published - 1];
    blocks.publish(r.blocks[r.published], parent, std::span(r.tokens).subspan(size_t(r.published) * bs, bs));
  }
}

bool Engine::Impl::emit(Request& r, const TokenEvent& e) {
  TokenEvent event = e;
  event.prompt_tokens = int32_t(r.params.prompt.size());
  event.cached_prompt_tokens = r.cached_prompt_tokens;
  return r.on_token(event);
}

// One engine step: every running request contributes its next tokens (decode: one; prefill: a
// chunk), one forward runs them all, and each request that reached the end of its known tokens
// samples and emits its next one.
bool Engine::Impl::step() {
  int32_t budget = decoder.max_batch_tokens();
  batch.clear();
  members.clear();
  // Decoding requests first (one token each), then prompt chunks, so nobody's decode stalls
  // behind a long prompt. `running` stays in admission order: preemption takes the newest.
  for (const bool decoding : {true, false}) {
    for (auto& owner : running) {
      Request& r = *owner;
      const int32_t pending = int32_t(r.tokens.size()) - r.computed;
      if ((pending == 1) != decoding || r.preempted || budget == 0) continue;
      drop_out_of_window(r);
      const int32_t n = std::min({pending, budget, options.prefill_chunk});
      if (!reserve(r, r.computed + n, members)) {
        preempt(r);
        continue;
      }
      const bool wants_logits = r.computed + n == int32_t(r.tokens.size());
      if (wants_logits) r.logits.resize(model.config.vocab_size);
      const bool scoring = r.scores_prompt();
      if (scoring) r.chunk_logits.resize(size_t(n) * model.config.vocab_size);
      batch.push_back({std::span(r.tokens).subspan(r.computed, n), r.computed, r.blocks,
                       scoring ? r.chunk_logits.data() : wants_logits ? r.logits.data() : nullptr, scoring,
                       int32_t(r.params.prompt.size())});
      members.push_back(&r);
      budget -= n;
    }
  }
  requeue_preempted();
  if (batch.empty()) return false;
  decoder.forward(batch, kv);

  for (size_t i = 0; i < members.size(); ++i) {
    if (batch[i].all_logits) members[i]->score_prompt(batch[i], model.config.vocab_size);
    members[i]->computed += int32_t(batch[i].tokens.size());
    publish_full_blocks(*members[i]);
    if (members[i]->computed >= int32_t(members[i]->params.prompt.size())) release_group(*members[i]);
  }
  // Each request draws from its own logits with its own sampler, so the draws run on the pool's
  // threads at once rather than one after another here: with no top-k (OpenAI's default) a draw
  // sorts the whole vocabulary, ~0.5 ms for 32000 tokens, which for 16 requests would leave the
  // other threads idle for 8 ms a step. Events are still emitted from this thread, in batch order.
  next_tokens.resize(members.size());
  pool.run([&](int t, int nth) {
    const auto [begin, end] = split_range(int64_t(members.size()), t, nth);
    for (int64_t i = begin; i < end; ++i)
      if (members[i]->reached_end(batch[i]) && members[i]->wants_token()) next_tokens[i] = members[i]->sample();
  });

  int32_t generated_now = 0;
  for (size_t i = 0; i < members.size(); ++i) {
    Request& r = *members[i];
    if (!r.reached_end(batch[i])) continue;
    const int32_t next = r.wants_token() ? next_tokens[i] : -1;
    TokenEvent e;
    if (!r.scored_sent && r.params.prompt_logprobs) {
      e.prompt_logprobs = std::move(r.scored);
      r.scored_sent = true;
    }
    if (next < 0) {  // max_tokens 0: the prompt alone was asked for
      e.finish = FinishReason::Length;
    } else if (next == model.vocab.eos_id || next == model.vocab.bos_id) {
      e.finish = FinishReason::EndOfSequence;
    } else {
      e.token = next;
      if (r.params.logprobs >= 0) {
        e.logprob = r.next_logprob;
        e.top_logprobs = std::move(r.top);
      }
      r.tokens.push_back(next);
      ++r.generated;
      ++generated_now;
      if (r.generated >= r.params.max_tokens) {
        e.finish = FinishReason::Length;
      } else if (int32_t(r.tokens.size()) > context) {  // the next position would not fit
        e.finish = FinishReason::ContextFull;
      }
    }
    // A request that ends is counted and its blocks freed before its last event goes out, so
    // whoever sees that event (a client, then /metrics) also sees the request gone.
    const bool last = e.finish != FinishReason::None;
    if (last) end_request(r);
    if (!emit(r, e) && !last) end_request(r);
  }
  std::erase_if(running, [](const auto& r) { return r->done; });
  finish_step(generated_now);
  return true;
}

void Engine::Impl::end_request(Request& r) {
  release(r);
  release_group(r);
  r.done = true;
  const auto live = std::count_if(running.begin(), running.end(), [](const auto& o) { return !o->done; });
  std::lock_guard lock(mutex);
  ++counters.requests_finished;
  counters.running = int32_t(live);
  counters.kv_blocks_used = blocks.used();
  counters.kv_blocks_cached = blocks.cached();
}

// Makes room for `positions` positions of r, preempting the newest running requests that are
// not already part of this step. False when even that cannot free enough.
bool Engine::Impl::reserve(Request& r, int32_t positions, const std::vector<Request*>& in_batch) {
  while (!ensure_blocks(r, positions)) {
    auto victim = std::find_if(running.rbegin(), running.rend(), [&](const auto& o) {
      return o.get() != &r && !o->preempted && !o->blocks.empty() &&
             std::find(in_batch.begin(), in_batch.end(), o.get()) == in_batch.end();
    });
    if (victim == running.rend()) return false;
    preempt(**victim);
  }
  return true;
}

// Preempted requests go back to the head of the queue, oldest first.
void Engine::Impl::requeue_preempted() {
  std::lock_guard lock(mutex);
  for (auto it = running.rbegin(); it != running.rend(); ++it) {
    if (!(*it)->preempted) continue;
    (*it)->preempted = false;
    waiting.push_front(std::move(*it));
  }
  std::erase_if(running, [](const auto& r) { return !r; });
}

void Engine::Impl::finish_step(int32_t generated) {
  const auto now = Clock::now();
  std::lock_guard lock(mutex);
  recent_steps.emplace_back(now, generated);
  while (!recent_steps.empty() && now - recent_steps.front().first > std::chrono::seconds(5)) recent_steps.pop_front();
  int64_t tokens = 0;
  for (const auto& [t, n] : recent_steps) tokens += n;
  const double span = std::max(1e-3, std::chrono::duration<double>(now - recent_steps.front().first).count());
  counters.generated_tokens_total += generated;
  counters.generated_tokens_per_second = recent_steps.size() > 1 ? tokens / span : 0.0;
  counters.running = int32_t(running.size());
  counters.queued = queued();
  counters.kv_blocks_used = blocks.used();
  counters.kv_blocks_cached = blocks.cached();
}

}  // namespace lumen
