// Beam search: the scorer's rules on hand-made logits and against exhaustive search, one beam
// against greedy decoding, and the paged, shared KV cache against recomputing every beam alone.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>

#include "formats/loaded_model.h"
#include "lumen/lumen.h"
#include "models/decoder.h"
#include "runtime/beam_search.h"
#include "test_paths.h"
#include "util/error.h"

namespace lumen {
namespace {

constexpr int32_t kEnd = 0;  // the end token of the hand-made vocabularies

// Logits whose log-softmax is log(probs) exactly enough for these tests.
std::vector<float> logits_of(std::initializer_list<double> probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(float(std::log(p)));
  return l;
}

TEST(BeamScorer, EndTokenFinishesAHypothesisScoredWithTheEndInItsLength) {
  BeamScorer s(2, 1.0, {kEnd});
  // Step 1 from the prompt: token 1 (0.5), the end (0.3), token 2 (0.2).
  auto choices = s.step(logits_of({0.3, 0.5, 0.2}).data(), 3);
  ASSERT_EQ(choices.size(), 2u);  // 1 and 2 live on; the end, ranked second, finished
  EXPECT_EQ(choices[0].token, 1);
  EXPECT_EQ(choices[1].token, 2);
  EXPECT_FALSE(s.done());
  const auto best = s.finish();
  ASSERT_EQ(best.size(), 2u);
  EXPECT_EQ(best[0].tokens, std::vector<int32_t>{1});  // the live beams join: [1] is best
  EXPECT_NEAR(best[0].score, std::log(0.5), 1e-6);
  EXPECT_FALSE(best[0].ended);
  // The ended hypothesis: no tokens, length 1 (the end token), score log 0.3; [2] is dropped.
  EXPECT_TRUE(best[1].ended);
  EXPECT_TRUE(best[1].tokens.empty());
  EXPECT_NEAR(best[1].score, std::log(0.3), 1e-6);
}

TEST(BeamScorer, EndTokenRankedBelowTheBeamCountIsNotKept) {
  BeamScorer s(1, 1.0, {kEnd});
  s.step(logits_of({0.3, 0.5, 0.2}).data(), 3);  // the end ranks second: beyond one beam
  const auto best = s.finish();
  ASSERT_EQ(best.size(), 1u);
  EXPECT_FALSE(best[0].ended);
  EXPECT_EQ(best[0].tokens, std::vector<int32_t>{1});
}

TEST(BeamScorer, LengthPenaltyDecidesBetweenShortAndLong) {
  // Two beams. Step 1: token 1 (0.5) and token 2 (0.05) live; the end (0.45) finishes [] with
  // length 1. Step 2: [1 1] reaches 0.5 x 0.6 = 0.3 over length 2. Per token that is better than
  // 0.45, so a length penalty of 1 prefers it; 0 compares bare sums, and log 0.45 > log 0.3.
  for (const double penalty : {0.0, 1.0}) {
    BeamScorer s(2, penalty, {kEnd});
    s.step(logits_of({0.45, 0.5, 0.05}).data(), 3);
    const auto step2 = logits_of({0.2, 0.6, 0.2, 0.2, 0.6, 0.2});  // both live beams alike
    s.step(step2.data(), 3);
    ASSERT_FALSE(s.done());
    const auto best = s.finish();
    ASSERT_EQ(best.size(), 2u);
    if (penalty == 0.0) {
      EXPECT_TRUE(best[0].ended);
      EXPECT_TRUE(best[0].tokens.empty());
      EXPECT_NEAR(best[0].score, std::log(0.45), 1e-6);
    } else {
      EXPECT_EQ(best[0].tokens, (std::vector<int32_t>{1, 1}));
      EXPECT_NEAR(best[0].score, std::log(0.3) / 2, 1e-6);
    }
  }
}

TEST(BeamScorer, StopsWhenTheFinishedCannotBeBeatenByHfsHeuristic) {
  BeamScorer s(1, 1.0, {kEnd});
  // The end ranks first (0.9): finished at log 0.9; the best candidate is that same one, so the
  // heuristic (worst finished ≥ best candidate at this length) stops the search.
  s.step(logits_of({0.9, 0.1}).data(), 2);
  EXPECT_TRUE(s.done());
  EXPECT_THROW(s.step(logits_of({0.9, 0.1}).data(), 2), Error);
  const auto best = s.finish();  // the live beam [1] does not join a search that is done
  ASSERT_EQ(best.size(), 1u);
  EXPECT_TRUE(best[0].ended);
}

// A made-up language model: the next-token logits are a fixed pseudo-random function of the
// sequence so far, over a vocabulary of 5 with the end token 0.
std::vector<float> made_up_logits(const std::vector<int32_t>& seq) {
  uint64_t h = 1469598103934665603ull;
  for (int32_t t : seq) h = (h ^ uint64_t(t + 1)) * 1099511628211ull;
  std::vector<float> l(5);
  for (float& x : l) {
    h = h * 6364136223846793005ull + 1442695040888963407ull;
    x = float((h >> 40) % 1000) / 250.0f;  // 0 .. 4
  }
  return l;
}

double log_softmax_at(const std::vector<float>& l, int32_t t) {
  double sum = 0;
  for (float x : l) sum += std::exp(double(x));
  return double(l[t]) - std::log(sum);
}

TEST(BeamScorer, WithBeamsForEverySequenceItFindsTheExhaustiveBest) {
  // 100 beams hold every sequence of 3 tokens over the 4 non-end tokens (64), so nothing is
  // pruned: the best hypothesis must be the best of all sequences scored by brute force.
  constexpr int32_t kSteps = 3, kVocab = 5;
  for (const double penalty : {0.0, 1.0, 2.0}) {
    BeamScorer s(100, penalty, {kEnd});
    std::vector<std::vector<int32_t>> live{{}};
    for (int32_t step = 0; step < kSteps && !s.done(); ++step) {
      std::vector<float> rows;
      for (const auto& seq : live) {
        const auto l = made_up_logits(seq);
        rows.insert(rows.end(), l.begin(), l.end());
      }
      std::vector<std::vector<int32_t>> next;
      for (const BeamChoice& c : s.step(rows.data(), kVocab)) {
        next.push_back(live[c.parent]);
        next.back().push_back(c.token);
      }
      live = next;
    }
    const auto best = s.finish();
    ASSERT_FALSE(best.empty());

    // Brute force: every sequence that ends (with the end token) within kSteps, or runs to kSteps.
    double best_score = -INFINITY;
    std::vector<int32_t> best_tokens;
    const std::function<void(std::vector<int32_t>&, double)> walk = [&](std::vector<int32_t>& seq, double sum) {
      const auto l = made_up_logits(seq);
      for (int32_t t = 0; t < kVocab; ++t) {
        const double s2 = sum + log_softmax_at(l, t);
        const double length = double(seq.size() + 1);
        if (t == kEnd || seq.size() + 1 == kSteps) {
          const double score = s2 / std::pow(length, penalty);
          if (score > best_score) {
            best_score = score;
            best_tokens = seq;
            if (t != kEnd) best_tokens.push_back(t);
          }
        }
        if (t != kEnd && seq.size() + 1 < kSteps) {
          seq.push_back(t);
          walk(seq, s2);
          seq.pop_back();
        }
      }
    };
    std::vector<int32_t> empty;
    walk(empty, 0.0);
    EXPECT_EQ(best[0].tokens, best_tokens) << "length penalty " << penalty;
    // The scorer's normalizer is the SIMD log_sum_exp: a few float ulps per step (kernels/ops.h).
    EXPECT_NEAR(best[0].score, best_score, 1e-6) << "length penalty " << penalty;
  }
}

std::shared_ptr<const Model> stories() {
  static auto model = Model::load(test::source_path("models/stories260K.bin"), test::source_path("models/tok512.bin"));
  return model;
}

TEST(BeamSearch, OneBeamIsGreedyDecoding) {
  Session session(stories(), {.threads = 2});
  for (const char* prompt : {"", "Once upon a time", "The dog ran to the park and saw a big red ball. He"}) {
    for (const int32_t n : {1, 17, 300}) {
      GenerateOptions greedy;
      greedy.temperature = 0;
      greedy.max_tokens = n;
      const GenerateResult g = session.generate(prompt, greedy);
      const BeamResult b = session.beam_search(prompt, {.beams = 1, .max_tokens = n});
      EXPECT_EQ(b.tokens, g.tokens) << "prompt '" << prompt << "', " << n << " tokens";
      EXPECT_EQ(b.text, g.text);
      EXPECT_EQ(b.stopped_at_end_of_text, g.stopped_at_end_of_text);
    }
  }
}

TEST(BeamSearch, ZeroTokensGiveAnEmptyResult) {
  Session session(stories(), {.threads = 1});
  const BeamResult b = session.beam_search("Once", {.beams = 3, .max_tokens = 0});
  EXPECT_TRUE(b.tokens.empty());
  EXPECT_EQ(b.text, "");
}

TEST(BeamSearch, BeamCountOutsideItsRangeIsRefused) {
  Session session(stories(), {.threads = 1});
  EXPECT_THROW(session.beam_search("Once", {.beams = 0}), Error);
  EXPECT_THROW(session.beam_search("Once", {.beams = BeamOptions::kMaxBeams + 1}), Error);
  EXPECT_THROW(session.beam_search("Once", {.beams = 2, .length_penalty = NAN}), Error);
}

// The same search with every live beam recomputed from scratch at every step: the prompt
// prefilled, then the beam's tokens decoded one at a time, in a SequenceRunner of its own (no
// sharing, no copies, one sequence per forward). The shared, copy-on-write, batched cache must
// give the same bits: any KV row a beam wrongly shares or misses changes its logits.
std::vector<BeamHypothesis> search_from_scratch(const LoadedModel& model, std::span<const int32_t> prompt,
                                                const BeamParams& p, const std::vector<int32_t>& end_tokens) {
  ThreadPool pool(1);  // the kernels give the same bits on any number of threads
  SequenceRunner runner(model, model.config.context_length, pool);
  const int32_t vocab = model.config.vocab_size, P = int32_t(prompt.size());
  BeamScorer scorer(p.beams, p.length_penalty, end_tokens);
  std::vector<std::vector<int32_t>> live{{}};
  for (int32_t n = 0; n < p.max_new_tokens; ++n) {
    std::vector<float> rows(live.size() * size_t(vocab));
    for (size_t i = 0; i < live.size(); ++i) {
      float* row = &rows[i * size_t(vocab)];
      runner.forward(prompt, 0, row);
      for (size_t j = 0; j < live[i].size(); ++j) runner.decode(live[i][j], P + int32_t(j), row);
    }
    std::vector<std::vector<int32_t>> next;
    for (const BeamChoice& c : scorer.step(rows.data(), vocab)) {
      next.push_back(live[c.parent]);
      next.back().push_back(c.token);
    }
    if (scorer.done()) break;
    live = next;
  }
  return scorer.finish();
}

void expect_same_as_from_scratch(const std::string& model_path, const std::string& tokenizer_path,
                                 const std::vector<int32_t>& prompt, const BeamParams& p) {
  const auto model = load_model(model_path, tokenizer_path);
  const std::vector<int32_t> end_tokens{model->vocab.eos_id, model->vocab.bos_id};
  ThreadPool pool(2);
  BeamSearch search(*model, model->config.context_length, pool, {}, end_tokens);
  GenerationStats stats;
  const auto ours = search.search(prompt, p, stats);
  const auto reference = search_from_scratch(*model, prompt, p, end_tokens);
  ASSERT_EQ(ours.size(), reference.size());
  ASSERT_EQ(ours.size(), size_t(p.beams));
  for (size_t i = 0; i < ours.size(); ++i) {
    EXPECT_EQ(ours[i].tokens, reference[i].tokens) << "hypothesis " << i;
    EXPECT_EQ(ours[i].score, reference[i].score) << "hypothesis " << i;  // to the bit
    EXPECT_EQ(ours[i].ended, reference[i].ended) << "hypothesis " << i;
  }
  EXPECT_GT(stats.generated_tokens, p.max_new_tokens) << "several beams ran";
}

TEST(BeamSearch, SharedCacheGivesTheBitsOfEveryBeamRecomputedAlone) {
  // stories260K (GQA): a 7-token prompt, beams crossing block boundaries at 16 and 32.
  expect_same_as_from_scratch(test::source_path("models/stories260K.bin"), test::source_path("models/tok512.bin"),
                              {1, 403, 407, 261, 378, 432, 383}, {.beams = 4, .length_penalty = 1.0, .max_new_tokens = 30});
  expect_same_as_from_scratch(test::source_path("models/stories260K.bin"), test::source_path("models/tok512.bin"),
                              {1}, {.beams = 3, .length_penalty = 0.0, .max_new_tokens = 30});
}

TEST(BeamSearch, SharedCacheGivesTheBitsOfEveryBeamRecomputedAloneMha) {
  // An MHA model (generated random weights), where a decode row takes the one-query kernel; a
  // 16-token prompt fills its block exactly, so the first step starts fresh blocks.
  std::vector<int32_t> prompt{1, 9038, 2501, 263, 931, 6989, 15344, 6583, 2901, 10155, 29892, 727, 471, 263, 2217, 7826};
  expect_same_as_from_scratch(test::generated_model_path("rand-mha.bin"), test::source_path("models/tokenizer.bin"),
                              prompt, {.beams = 4, .length_penalty = 1.0, .max_new_tokens = 12});
}

}  // namespace
}  // namespace lumen
