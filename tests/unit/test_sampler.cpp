// The sampler's rules, each checked on logits whose answer can be worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "runtime/sampler.h"
#include "util/error.h"

namespace lumen {
namespace {

SamplingParams plain(float temperature) {
  SamplingParams p;
  p.temperature = temperature;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  return p;
}

TEST(Sampler, GreedyTakesTheFirstLargest) {
  Sampler s(plain(0.0f), 5);
  std::vector<float> logits{1.0f, 3.0f, -2.0f, 3.0f, 0.5f};
  EXPECT_EQ(s.sample(logits.data(), {}), 1);
}

// Draws `n` samples and returns how often each id came up.
std::map<int32_t, int> histogram(SamplingParams p, const std::vector<float>& logits, int n) {
  Sampler s(p, int32_t(logits.size()));
  std::map<int32_t, int> counts;
  for (int i = 0; i < n; ++i) {
    std::vector<float> l = logits;
    ++counts[s.sample(l.data(), {})];
  }
  return counts;
}

TEST(Sampler, TemperatureOneFollowsSoftmax) {
  // softmax(log 1, log 2, log 7) = (0.1, 0.2, 0.7)
  const auto counts = histogram(plain(1.0f), {0.0f, std::log(2.0f), std::log(7.0f)}, 20000);
  EXPECT_NEAR(counts.at(0) / 20000.0, 0.1, 0.015);
  EXPECT_NEAR(counts.at(1) / 20000.0, 0.2, 0.015);
  EXPECT_NEAR(counts.at(2) / 20000.0, 0.7, 0.015);
}

TEST(Sampler, TopKKeepsOnlyTheKLargest) {
  SamplingParams p = plain(1.0f);
  p.top_k = 2;
  const auto counts = histogram(p, {5.0f, 0.0f, 4.9f, 4.8f}, 2000);
  EXPECT_EQ(counts.count(1) + counts.count(3), 0u);
  EXPECT_GT(counts.at(0), 0);
  EXPECT_GT(counts.at(2), 0);
}

TEST(Sampler, TopPKeepsTheSmallestPrefixReachingP) {
  // probabilities 0.5, 0.3, 0.2: top-p 0.75 keeps the first two (0.5 < 0.75 <= 0.8)
  SamplingParams p = plain(1.0f);
  p.top_p = 0.75f;
  const auto counts = histogram(p, {std::log(5.0f), std::log(3.0f), std::log(2.0f)}, 4000);
  EXPECT_EQ(counts.count(2), 0u);
  EXPECT_NEAR(counts.at(0) / 4000.0, 0.625, 0.03);  // renormalised 0.5 / 0.8
}

TEST(Sampler, MinPDropsTokensBelowAFractionOfTheBest) {
  // probabilities 0.6, 0.3, 0.1; min-p 0.25 keeps those ≥ 0.15
  SamplingParams p = plain(1.0f);
  p.min_p = 0.25f;
  const auto counts = histogram(p, {std::log(6.0f), std::log(3.0f), std::log(1.0f)}, 3000);
  EXPECT_EQ(counts.count(2), 0u);
  EXPECT_GT(counts.at(1), 0);
}

TEST(Sampler, RepeatPenaltyShrinksPositiveAndGrowsNegativeLogits) {
  SamplingParams p = plain(0.0f);
  p.repeat_penalty = 2.0f;
  Sampler s(p, 3);
  std::vector<float> logits{3.0f, 2.0f, -1.0f};
  const std::vector<int32_t> recent{0, 2, 0};
  EXPECT_EQ(s.sample(logits.data(), recent), 1);  // 3 → 1.5 falls below 2
  EXPECT_FLOAT_EQ(logits[0], 1.5f);               // penalised once although it appears twice
  EXPECT_FLOAT_EQ(logits[2], -2.0f);
}

TEST(Sampler, SameSeedSameDraws) {
  SamplingParams p = plain(1.5f);
  p.seed = 1234;
  std::vector<float> logits(100);
  for (int i = 0; i < 100; ++i) logits[i] = std::sin(float(i));
  Sampler a(p, 100), b(p, 100);
  p.seed = 99;
  Sampler c(p, 100);
  int differ = 0;
  for (int i = 0; i < 50; ++i) {
    std::vector<float> la = logits, lb = logits, lc = logits;
    const int32_t ta = a.sample(la.data(), {});
    EXPECT_EQ(ta, b.sample(lb.data(), {}));
    differ += ta != c.sample(lc.data(), {});
  }
  EXPECT_GT(differ, 0);
}

TEST(Sampler, RejectsNonsenseParameters) {
  SamplingParams p = plain(-1.0f);
  EXPECT_THROW(Sampler(p, 10), Error);
  p = plain(1.0f);
  p.top_p = 0.0f;
  EXPECT_THROW(Sampler(p, 10), Error);
  p = plain(1.0f);
  p.top_k = -3;
  EXPECT_THROW(Sampler(p, 10), Error);
}

}  // namespace
}  // namespace lumen
