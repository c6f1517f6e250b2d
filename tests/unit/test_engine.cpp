// The serving engine against the single-sequence path: whatever the batch around a request,
// greedy output (and a seeded sample) must be the output it gets alone; blocks must all come back.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

#include "formats/loaded_model.h"
#include "models/decoder.h"
#include "runtime/engine.h"
#include "runtime/generator.h"
#include "runtime/json_prefix.h"
#include "test_paths.h"
#include "tokenizer/spm_tokenizer.h"
#include "util/error.h"

namespace lumen {
namespace {

const LoadedModel& stories() {
  static auto model = load_model(test::source_path("models/stories260K.bin"), test::source_path("models/tok512.bin"));
  return *model;
}

SamplingParams greedy() {
  SamplingParams p;
  p.temperature = 0.0f;
  return p;
}

// Sampled with its own seed and no top-k: each draw sorts the whole vocabulary.
SamplingParams seeded(uint64_t seed) {
  SamplingParams p;
  p.temperature = 0.8f;
  p.top_k = 0;
  p.min_p = 0.0f;
  p.seed = seed;
  return p;
}

// What a request produces alone, through the single-sequence generator.
std::vector<int32_t> alone(const std::vector<int32_t>& prompt, int32_t max_tokens, SamplingParams sampling = greedy(),
                           const LoadedModel& model = stories()) {
  ThreadPool pool(1);
  SequenceRunner runner(model, 0, pool);
  Generator generator(runner, model.vocab.bos_id, model.vocab.eos_id);
  Sampler sampler(sampling, model.config.vocab_size);
  std::vector<int32_t> tokens;
  GenerationStats stats;
  generator.generate(prompt, max_tokens, sampler, [](int32_t) {}, tokens, stats);
  return {tokens.begin() + prompt.size(), tokens.end()};
}

// Collects every request's tokens and waits for all of them to finish.
struct Collector {
  std::mutex mutex;
  std::condition_variable done_cv;
  std::vector<std::vector<int32_t>> outputs;
  std::vector<TokenEvent> last;
  int finished = 0;

  explicit Collector(size_t n) : outputs(n), last(n) {}
  TokenCallback callback(size_t i, int cancel_after = -1) {
    return [this, i, cancel_after](const TokenEvent& e) {
      std::lock_guard lock(mutex);
      if (e.token >= 0) outputs[i].push_back(e.token);
      last[i] = e;
      const bool cancel = cancel_after >= 0 && int(outputs[i].size()) >= cancel_after;
      if (e.finish != FinishReason::None || cancel) {
        ++finished;
        done_cv.notify_all();
      }
      return !cancel;
    };
  }
  void wait(int n) {
    std::unique_lock lock(mutex);
    ASSERT_TRUE(done_cv.wait_for(lock, std::chrono::seconds(60), [&] { return finished >= n; }));
  }
};

// Holds the engine's loop in a request's first event until opened, so that what a test does
// meanwhile (submit, cancel) happens while that request occupies the engine. Declared after the
// engine, so destroyed first: a gate never opened (an assertion returned early) still lets the
// loop go, its promise broken.
struct LoopGate {
  std::promise<void> entered, opened;
  TokenCallback hold(TokenCallback next) {
    return [this, next = std::move(next), waited = false](const TokenEvent& e) mutable {
      if (!std::exchange(waited, true)) {
        entered.set_value();
        opened.get_future().wait();
      }
      return next(e);
    };
  }
  // Submits a request whose first event holds the loop, and waits until it does.
  void occupy(Engine& engine, const RequestParams& p, TokenCallback next) {
    ASSERT_TRUE(engine.submit(p, hold(std::move(next))));
    entered.get_future().wait();
  }
  void open() { opened.set_value(); }
};

std::vector<std::vector<int32_t>> prompts() {
  SpmTokenizer tok(stories().vocab);
  std::vector<std::vector<int32_t>> out;
  for (const char* text : {"Once upon a time", "The dog ran to the", "", "Lily's mom said",
                           "Tom and Sue went to the park and saw a big tree with many", "A cat"})
    out.push_back(tok.encode(text, true));
  return out;
}

void expect_same_as_alone(EngineOptions options, bool expect_preemption, bool sampled = false) {
  const auto ps = prompts();
  const std::vector<int32_t> budgets{40, 7, 60, 25, 33, 1};
  Engine engine(stories(), options);
  Collector c(ps.size());
  for (size_t i = 0; i < ps.size(); ++i) {
    RequestParams p;
    p.prompt = ps[i];
    p.max_tokens = budgets[i];
    p.sampling = sampled ? seeded(i) : greedy();
    ASSERT_TRUE(engine.submit(p, c.callback(i)));
  }
  c.wait(int(ps.size()));
  for (size_t i = 0; i < ps.size(); ++i)
    EXPECT_EQ(c.outputs[i], alone(ps[i], budgets[i], sampled ? seeded(i) : greedy())) << "request " << i;
  EXPECT_EQ(engine.metrics().kv_blocks_used, 0);
  EXPECT_EQ(engine.metrics().requests_finished, ps.size());
  EXPECT_EQ(engine.metrics().preemptions > 0, expect_preemption);
}

TEST(Engine, BatchedGreedyEqualsAlone) {
  EngineOptions o;
  o.max_sequences = 4;
  o.threads = 2;
  o.prefill_chunk = 8;  // long prompts take several steps, mixed with others' decoding
  expect_same_as_alone(o, false);
}

// The requests of a step draw their tokens on the pool's threads at once: each must still use its
// own logits and its own sampler.
TEST(Engine, BatchedSeededSamplesEqualAlone) {
  EngineOptions o;
  o.max_sequences = 6;
  o.threads = 2;
  expect_same_as_alone(o, false, true);
}

TEST(Engine, PreemptionUnderBlockPressureStillEqualsAlone) {
  EngineOptions o;
  o.max_sequences = 4;
  o.threads = 1;
  o.block_size = 4;
  o.context_length = 96;
  o.kv_blocks = 24;  // one full context: four sequences cannot all grow at once
  o.prefill_chunk = 5;
  expect_same_as_alone(o, true);
}

TEST(Engine, CancelledRequestsFreeTheirBlocks) {
  EngineOptions o;
  o.threads = 1;
  Engine engine(stories(), o);
  Collector c(1);
  RequestParams p;
  p.prompt = prompts()[0];
  p.max_tokens = 200;
  p.sampling = greedy();
  ASSERT_TRUE(engine.submit(p, c.callback(0, 5)));
  c.wait(1);
  EXPECT_EQ(c.outputs[0].size(), 5u);
  // The engine frees the blocks once the callback that cancelled has returned: poll, bounded.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (engine.metrics().kv_blocks_used != 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(engine.metrics().kv_blocks_used, 0);
}

// A client that hangs up while its request waits: cancel() takes the request out of the queue
// at once, before any prefill, and the requests around it run as if it had never come.
TEST(Engine, CancelledWaitingRequestIsNeverPrefilled) {
  EngineOptions o;
  o.max_sequences = 1;  // the first request holds the only slot; the others wait
  o.threads = 1;
  o.block_size = 4;
  // 0: running, 1: cancelled while waiting, 2: waiting behind it; `again`: request 1's prompt
  // sent again. Declared before the engine, which may call them until it is destroyed.
  Collector c(3), again(1);
  Engine engine(stories(), o);
  // The running request's first event holds the loop until the cancellation is done, so request
  // 1 cannot be admitted first.
  LoopGate gate;
  const auto ps = prompts();
  RequestParams p;
  p.sampling = greedy();
  p.max_tokens = 30;
  p.prompt = ps[0];
  gate.occupy(engine, p, c.callback(0));
  p.prompt = ps[4];
  const auto victim = engine.submit(p, c.callback(1));
  p.prompt = ps[3];
  ASSERT_TRUE(engine.submit(p, c.callback(2)));
  ASSERT_TRUE(victim);
  EXPECT_EQ(engine.metrics().queued, 2);
  EXPECT_TRUE(engine.cancel(*victim));
  EXPECT_FALSE(engine.cancel(*victim));  // gone: a second cancel finds nothing
  EXPECT_EQ(engine.metrics().queued, 1);
  EXPECT_EQ(engine.metrics().requests_cancelled_queued, 1u);
  gate.open();
  c.wait(2);
  EXPECT_EQ(c.outputs[0], alone(ps[0], 30));
  EXPECT_EQ(c.outputs[2], alone(ps[3], 30));
  EXPECT_TRUE(c.outputs[1].empty());  // never called back: no token, no final event
  EXPECT_EQ(c.last[1].finish, FinishReason::None);
  // Had request 1's prompt been prefilled, its full blocks would be in the prefix cache now.
  p.prompt = ps[4];
  p.max_tokens = 1;
  ASSERT_TRUE(engine.submit(p, again.callback(0)));
  again.wait(1);
  EXPECT_EQ(again.last[0].cached_prompt_tokens, 0);
}

// A client that hangs up while its request runs: cancel() ends the request before the engine's
// next step, even in the middle of its prompt, with no further events.
TEST(Engine, CancelledRunningRequestStopsAtOnce) {
  EngineOptions o;
  o.threads = 1;
  o.prefill_chunk = 1;  // the long prompt takes one step per token: many steps to cancel it in
  Collector c(2);
  Engine engine(stories(), o);
  const auto ps = prompts();
  // Request 0's first event holds the loop until request 1 is queued; its second, one step
  // after request 1 was admitted, cancels request 1 from the loop thread, between two steps.
  std::promise<RequestId> victim_id;
  std::shared_future<RequestId> victim = victim_id.get_future().share();
  std::optional<bool> cancel_result;
  auto first = [&, next = c.callback(0), events = 0](const TokenEvent& e) mutable {
    if (++events == 2) cancel_result = engine.cancel(victim.get());
    if (events == 1) victim.wait();
    return next(e);
  };
  RequestParams p;
  p.sampling = greedy();
  p.max_tokens = 20;
  p.prompt = ps[2];  // BOS alone: its first event comes after one step
  ASSERT_TRUE(engine.submit(p, first));
  p.prompt = ps[4];
  p.max_tokens = 30;
  const auto id = engine.submit(p, c.callback(1));
  ASSERT_TRUE(id);
  victim_id.set_value(*id);
  c.wait(1);
  EXPECT_EQ(c.outputs[0], alone(ps[2], 20));
  ASSERT_TRUE(cancel_result);
  EXPECT_FALSE(*cancel_result);  // it was running, not waiting
  EXPECT_TRUE(c.outputs[1].empty());  // never called back: no token, no final event
  EXPECT_EQ(c.last[1].finish, FinishReason::None);
  const EngineMetrics m = engine.metrics();
  EXPECT_EQ(m.requests_cancelled_queued, 0u);
  EXPECT_EQ(m.requests_finished, 2u);
  EXPECT_EQ(m.kv_blocks_used, 0);
  EXPECT_EQ(m.running, 0);
}

// logprobs are the model's own distribution: the log-softmax (computed here in double) of the
// logits the single-sequence path gives for the same tokens, untouched by the logit bias and
// the temperature that shape the draw.
TEST(Engine, LogprobsAreTheLogSoftmaxOfTheRawLogits) {
  EngineOptions o;
  o.threads = 1;
  Engine engine(stories(), o);
  const int32_t vocab = stories().config.vocab_size;
  RequestParams p;
  p.prompt = prompts()[0];
  p.max_tokens = 12;
  p.sampling = seeded(7);
  for (int32_t t = 100; t < 110; ++t) p.logit_bias[t] = 30.0f;  // would fill the top 3 if counted
  p.logprobs = 3;
  std::vector<TokenEvent> events;
  std::promise<void> done;
  ASSERT_TRUE(engine.submit(p, [&](const TokenEvent& e) {
    if (e.token >= 0) events.push_back(e);
    if (e.finish != FinishReason::None) done.set_value();
    return true;
  }));
  done.get_future().wait();
  ASSERT_FALSE(events.empty());

  std::vector<int32_t> all = p.prompt;
  for (const TokenEvent& e : events) all.push_back(e.token);
  ThreadPool pool(1);
  SequenceRunner runner(stories(), 0, pool);
  std::vector<float> logits(all.size() * size_t(vocab));
  runner.forward(all, 0, logits.data(), true);
  for (size_t i = 0; i < events.size(); ++i) {
    const float* row = &logits[(p.prompt.size() - 1 + i) * size_t(vocab)];
    double sum = 0;
    for (int32_t t = 0; t < vocab; ++t) sum += std::exp(double(row[t]));
    const double lse = std::log(sum);
    std::vector<double> sorted(row, row + vocab);
    std::sort(sorted.rbegin(), sorted.rend());
    const TokenEvent& e = events[i];
    EXPECT_NEAR(e.logprob, row[e.token] - lse, 1e-3) << "token " << i;
    ASSERT_EQ(e.top_logprobs.size(), 3u);
    for (size_t j = 0; j < 3; ++j) {
      EXPECT_NEAR(e.top_logprobs[j].logprob, sorted[j] - lse, 1e-3) << "token " << i << " rank " << j;
      EXPECT_NEAR(e.top_logprobs[j].logprob, row[e.top_logprobs[j].token] - lse, 1e-3);
    }
  }
}

// Scoring a prompt (OpenAI's echo with logprobs): prompt token i's log-probability given the
// tokens before it, from every row of the prefill, chunked or not, against the single-sequence
// path's logits of all positions; the second identical request is scored in full even though
// its prompt is in the prefix cache; max_tokens 0 scores and ends.
TEST(Engine, PromptLogprobsScoreEveryPromptToken) {
  EngineOptions o;
  o.threads = 1;
  o.prefill_chunk = 5;
  o.block_size = 4;
  Engine engine(stories(), o);
  const int32_t vocab = stories().config.vocab_size;
  const std::vector<int32_t> prompt = prompts()[4];
  ThreadPool pool(1);
  SequenceRunner runner(stories(), 0, pool);
  std::vector<float> logits(prompt.size() * size_t(vocab));
  runner.forward(prompt, 0, logits.data(), true);

  for (int32_t max_tokens : {3, 3, 0}) {
    RequestParams p;
    p.prompt = prompt;
    p.max_tokens = max_tokens;
    p.sampling = greedy();
    p.logprobs = 2;
    p.prompt_logprobs = true;
    std::vector<TokenEvent> events;
    std::promise<void> done;
    ASSERT_TRUE(engine.submit(p, [&](const TokenEvent& e) {
      events.push_back(e);
      if (e.finish != FinishReason::None) done.set_value();
      return true;
    }));
    done.get_future().wait();
    ASSERT_EQ(events.size(), size_t(max_tokens == 0 ? 1 : max_tokens));
    EXPECT_EQ(events[0].cached_prompt_tokens, 0);
    const std::vector<ScoredToken>& scored = events[0].prompt_logprobs;
    ASSERT_EQ(scored.size(), prompt.size() - 1);
    for (size_t i = 0; i + 1 < prompt.size(); ++i) {
      const float* row = &logits[i * size_t(vocab)];
      double sum = 0;
      for (int32_t t = 0; t < vocab; ++t) sum += std::exp(double(row[t]));
      EXPECT_EQ(scored[i].token, prompt[i + 1]);
      EXPECT_NEAR(scored[i].logprob, row[prompt[i + 1]] - std::log(sum), 1e-4) << "prompt token " << i + 1;
      ASSERT_EQ(scored[i].top.size(), 2u);
      EXPECT_NEAR(scored[i].top[0].logprob, *std::max_element(row, row + vocab) - std::log(sum), 1e-4);
    }
    for (size_t i = 1; i < events.size(); ++i) EXPECT_TRUE(events[i].prompt_logprobs.empty());
    if (max_tokens == 0) {
      EXPECT_EQ(events[0].token, -1);
      EXPECT_EQ(events[0].finish, FinishReason::Length);
    } else {
      EXPECT_EQ(events[0].token, alone(prompt, 1)[0]);
    }
  }
  EXPECT_EQ(engine.metrics().kv_blocks_used, 0);
}

// A request's numbers do not depend on how its prompt was cut into chunks (which depends on
// the other requests in the batch): the log-probabilities of its tokens are equal to the bit
// for every chunk size, for a GQA model (stories260K) and an MHA one (rand-mha, where a query
// head has its KV head to itself).
TEST(Engine, ChunkingDoesNotChangeAnyBit) {
  const auto mha = load_model(test::generated_model_path("rand-mha.bin"), test::source_path("models/tokenizer.bin"));
  for (const LoadedModel* model : {&stories(), static_cast<const LoadedModel*>(mha.get())}) {
    std::vector<int32_t> prompt{model->vocab.bos_id};
    for (int32_t i = 0; i < 40; ++i) prompt.push_back(100 + (i * 37) % 300);
    std::vector<std::vector<float>> runs;
    for (int32_t chunk : {64, 1, 3, 16, 17}) {
      EngineOptions o;
      o.threads = 2;
      o.prefill_chunk = chunk;
      Engine engine(*model, o);
      RequestParams p;
      p.prompt = prompt;
      p.max_tokens = 8;
      p.sampling = greedy();
      p.logprobs = 0;
      std::vector<float> logprobs;
      std::promise<void> done;
      ASSERT_TRUE(engine.submit(p, [&](const TokenEvent& e) {
        if (e.token >= 0) logprobs.push_back(e.logprob);
        if (e.finish != FinishReason::None) done.set_value();
        return true;
      }));
      done.get_future().wait();
      runs.push_back(logprobs);
    }
    for (size_t i = 1; i < runs.size(); ++i)
      EXPECT_EQ(runs[i], runs[0]) << (model == &stories() ? "stories260K" : "rand-mha") << ", chunking " << i;
  }
}

TEST(Engine, SharedPrefixIsNotPrefilledTwice) {
  EngineOptions o;
  o.threads = 1;
  o.block_size = 4;
  Engine engine(stories(), o);
  SpmTokenizer tok(stories().vocab);
  const auto first = tok.encode("Tom and Sue went to the park and saw a big tree with many birds", true);
  auto second = first;
  second.push_back(first[3]);  // the same 15 + 1 tokens, then one more
  Collector c(2);
  for (size_t i = 0; i < 2; ++i) {
    RequestParams p;
    p.prompt = i == 0 ? first : second;
    p.max_tokens = 3;
    p.sampling = greedy();
    ASSERT_TRUE(engine.submit(p, c.callback(i)));
    c.wait(int(i) + 1);
  }
  EXPECT_EQ(c.last[0].cached_prompt_tokens, 0);
  // Every full block of the first prompt is reused: (len - 1) / 4 whole blocks before the last token.
  EXPECT_EQ(c.last[1].cached_prompt_tokens, int32_t((second.size() - 1) / 4 * 4));
  EXPECT_EQ(c.outputs[1], alone(second, 3));
}

// OpenAI's n: one prompt sampled several ways. Each request of the group gets what it would get
// alone, and only the first computes the prompt; the others take its full blocks from the
// prefix cache and recompute the last, partly filled one.
TEST(Engine, GroupComputesItsPromptOnce) {
  EngineOptions o;
  o.threads = 1;
  o.block_size = 4;
  o.prefill_chunk = 5;  // the prompt takes several steps, during which the others must wait
  const auto prompt = prompts()[4];
  for (const bool sampled : {false, true}) {
    Collector c(4);
    Engine engine(stories(), o);
    std::vector<RequestParams> group(4);
    std::vector<TokenCallback> callbacks;
    for (size_t i = 0; i < group.size(); ++i) {
      group[i].prompt = prompt;
      group[i].max_tokens = 20;
      group[i].sampling = sampled ? seeded(7 + i) : greedy();
      callbacks.push_back(c.callback(i));
    }
    const auto ids = engine.submit_group(group, callbacks);
    ASSERT_TRUE(ids);
    EXPECT_EQ(ids->size(), 4u);
    c.wait(4);
    const int32_t full_blocks = int32_t(prompt.size() - 1) / 4 * 4;
    for (size_t i = 0; i < group.size(); ++i) {
      EXPECT_EQ(c.outputs[i], alone(prompt, 20, group[i].sampling)) << "request " << i;
      EXPECT_EQ(c.last[i].cached_prompt_tokens, i == 0 ? 0 : full_blocks) << "request " << i;
    }
    if (sampled) {
      EXPECT_NE(c.outputs[0], c.outputs[1]);  // the seeds do differ
    }
    const EngineMetrics m = engine.metrics();
    EXPECT_EQ(m.prompt_tokens_cached, uint64_t(3 * full_blocks));
    EXPECT_EQ(m.kv_blocks_used, 0);
    EXPECT_EQ(m.requests_finished, 4u);
  }
}

// Cancelling inside a group: a request held for the group's prompt leaves at once; when the
// first request leaves the queue, the others go on without it.
TEST(Engine, GroupMembersCancelSeparately) {
  EngineOptions o;
  o.max_sequences = 1;  // a running request holds the only slot; the group waits
  o.max_queued = 3;
  o.threads = 1;
  Collector c(4);  // 0: running; 1, 2, 3: the group
  Engine engine(stories(), o);
  LoopGate gate;
  const auto ps = prompts();
  RequestParams p;
  p.sampling = greedy();
  p.max_tokens = 5;
  p.prompt = ps[0];
  gate.occupy(engine, p, c.callback(0));
  p.prompt = ps[1];
  const auto ids = engine.submit_group({p, p, p}, {c.callback(1), c.callback(2), c.callback(3)});
  ASSERT_TRUE(ids);
  EXPECT_EQ(engine.metrics().queued, 3);
  // The queue is full: another group is refused whole.
  EXPECT_FALSE(engine.submit_group({p, p}, {[](const TokenEvent&) { return true; }, [](const TokenEvent&) { return true; }}));
  EXPECT_EQ(engine.metrics().requests_rejected, 2u);
  EXPECT_TRUE(engine.cancel((*ids)[1]));  // held for the group's prompt
  EXPECT_TRUE(engine.cancel((*ids)[0]));  // waiting: the group's last member goes on alone
  EXPECT_EQ(engine.metrics().queued, 1);
  gate.open();
  c.wait(2);
  EXPECT_EQ(c.outputs[3], alone(ps[1], 5));
  EXPECT_TRUE(c.outputs[1].empty() && c.outputs[2].empty());
  EXPECT_EQ(engine.metrics().requests_cancelled_queued, 2u);
  EXPECT_EQ(engine.metrics().kv_blocks_used, 0);
}

// JSON mode on a model that never writes JSON by itself: greedy and sampled, every output is a
// prefix of a JSON object (the byte checker, itself held against nlohmann in
// test_json_prefix.cpp). With '"' and '}' favoured by a logit bias (',' and whitespace barred), the
// objects close, and the model must then end: those outputs are whole objects that nlohmann parses.
TEST(Engine, JsonModeKeepsTheOutputJson) {
  EngineOptions o;
  o.threads = 1;
  o.max_sequences = 8;
  Engine engine(stories(), o);
  SpmTokenizer tok(stories().vocab);
  // Closing: '"' and '}' favoured, ',' and whitespace (which this model would rather write) kept out.
  std::map<int32_t, float> closing;
  for (int32_t t = 0; t < stories().vocab.size(); ++t) {
    const std::string piece = tok.decode_piece(-1, t);
    if (piece == "\"" || piece == "}") closing[t] = 10.0f;
    else if (piece == "," || (!piece.empty() && piece.find_first_not_of(" \n\t\r") == std::string::npos)) closing[t] = -100.0f;
  }
  const auto prompt = tok.encode("Once upon a time", true);
  constexpr size_t kRuns = 8, kClosing = 2;  // the last two are biased to close
  Collector c(kRuns);
  for (size_t i = 0; i < kRuns; ++i) {
    RequestParams p;
    p.prompt = prompt;
    p.max_tokens = 120;
    p.sampling = i == 0 ? greedy() : seeded(100 + i);
    p.json_object = true;
    if (i >= kRuns - kClosing) p.logit_bias = closing;
    ASSERT_TRUE(engine.submit(p, c.callback(i)));
  }
  c.wait(int(kRuns));
  for (size_t i = 0; i < kRuns; ++i) {
    std::string text;
    int32_t previous = prompt.back();
    for (int32_t t : c.outputs[i]) text += tok.decode_piece(std::exchange(previous, t), t);
    SCOPED_TRACE(nlohmann::json(text).dump());
    JsonPrefix json;
    EXPECT_TRUE(json.push(text));
    if (i >= kRuns - kClosing) {
      ASSERT_EQ(c.last[i].finish, FinishReason::EndOfSequence);
      EXPECT_TRUE(json.complete());
      EXPECT_TRUE(nlohmann::json::parse(text).is_object());
    } else {
      EXPECT_EQ(c.last[i].finish, FinishReason::Length);  // a 260K story model does not close a string
    }
  }
  // Unconstrained, the same greedy request is a story, not JSON.
  Collector plain(1);
  RequestParams p;
  p.prompt = prompt;
  p.max_tokens = 8;
  p.sampling = greedy();
  ASSERT_TRUE(engine.submit(p, plain.callback(0)));
  plain.wait(1);
  EXPECT_FALSE(JsonPrefix().push(tok.decode_piece(prompt.back(), plain.outputs[0].front())));
}

// A sliding-window model: blocks that fall out of every row's window go back as the requests
// run, so the default cache holds blocks_for(window + prefill chunk) + 2 blocks per sequence
// instead of a whole context, and long generations still run without preemption and give what
// they give alone (whose ring cache test_kv_cache.cpp holds against a whole cache). Windows
// narrower and wider than a block. (Without the drops, this test preempts 15 and 188 times.)
TEST(Engine, SlidingWindowGivesBlocksBack) {
  auto model = load_model(test::source_path("models/stories260K.bin"), test::source_path("models/tok512.bin"));
  for (const int32_t window : {8, 40}) {
    SCOPED_TRACE(testing::Message() << "window " << window);
    model->config.sliding_window = window;
    EngineOptions o;
    o.threads = 1;
    o.max_sequences = 3;
    o.prefill_chunk = 16;
    Engine engine(*model, o);
    const int32_t per_sequence = blocks_for(window + 16, 16) + 2;
    EXPECT_EQ(engine.metrics().kv_blocks_total, 3 * per_sequence);  // 512 positions would need 32 each
    const auto ps = prompts();
    Collector c(ps.size());
    for (size_t i = 0; i < ps.size(); ++i) {
      RequestParams p;
      p.prompt = ps[i];
      p.max_tokens = 300;
      p.sampling = greedy();
      ASSERT_TRUE(engine.submit(p, c.callback(i)));
    }
    c.wait(int(ps.size()));
    size_t longest = 0;
    for (size_t i = 0; i < ps.size(); ++i) {
      longest = std::max(longest, c.outputs[i].size());
      EXPECT_EQ(c.outputs[i], alone(ps[i], 300, greedy(), *model)) << "request " << i;
    }
    EXPECT_GT(longest, size_t(per_sequence * 16));  // past what one sequence's share could hold
    const EngineMetrics m = engine.metrics();
    EXPECT_EQ(m.preemptions, 0u);
    EXPECT_EQ(m.kv_blocks_used, 0);
  }
}

TEST(Engine, FullQueueRefusesAndBadRequestsThrow) {
  EngineOptions o;
  o.threads = 1;
  o.max_queued = 0;
  Engine engine(stories(), o);
  RequestParams p;
  p.prompt = prompts()[0];
  p.sampling = greedy();
  EXPECT_FALSE(engine.submit(p, [](const TokenEvent&) { return true; }));
  EXPECT_EQ(engine.metrics().requests_rejected, 1u);
  // A group larger than the whole queue can never be queued: an error, not "busy".
  EXPECT_THROW(engine.submit_group({p, p}, {[](const TokenEvent&) { return true; }, [](const TokenEvent&) { return true; }}),
               Error);
  p.prompt.assign(600, 5);  // longer than the 512-token context
  EXPECT_THROW(engine.submit(p, [](const TokenEvent&) { return true; }), Error);
  p.prompt = {1};
  p.max_tokens = 0;  // only a prompt to score may generate nothing
  EXPECT_THROW(engine.submit(p, [](const TokenEvent&) { return true; }), Error);
  p.prompt_logprobs = true;  // scoring needs logprobs
  EXPECT_THROW(engine.submit(p, [](const TokenEvent&) { return true; }), Error);
  p.logprobs = kMaxTopLogprobs + 1;
  EXPECT_THROW(engine.submit(p, [](const TokenEvent&) { return true; }), Error);
  RequestParams other = p;
  other.logprobs = 0;
  other.prompt = {1, 2};
  p.logprobs = 0;
  EXPECT_THROW(engine.submit_group({p, other}, {[](const TokenEvent&) { return true; }, [](const TokenEvent&) { return true; }}), Error);
}

}  // namespace
}  // namespace lumen
