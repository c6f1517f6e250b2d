// The sampler's rules, each checked on logits whose answer can be worked out by hand.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

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

// The chain (top-k → top-p → min-p → temperature → draw) written the plain way: every candidate
// sorted with std::sort, both normalisations always computed. The sampler's shortcuts (partial
// sort for top-k, radix sort for the whole vocabulary, a normalisation skipped when nothing reads
// it) must draw exactly the same tokens from the same random numbers.
int32_t reference_draw(const SamplingParams& p, const std::vector<float>& logits, std::mt19937_64& rng) {
  struct Candidate {
    int32_t id;
    float logit, prob;
  };
  std::vector<Candidate> c;
  for (size_t i = 0; i < logits.size(); ++i) c.push_back({int32_t(i), logits[i], 0.0f});
  std::sort(c.begin(), c.end(), [](const Candidate& a, const Candidate& b) {
    return a.logit != b.logit ? a.logit > b.logit : a.id < b.id;
  });
  size_t kept = p.top_k > 0 ? std::min(size_t(p.top_k), c.size()) : c.size();
  auto normalise = [&](float temperature) {
    double sum = 0.0;
    for (size_t i = 0; i < kept; ++i) sum += c[i].prob = std::exp((c[i].logit - c[0].logit) / temperature);
    for (size_t i = 0; i < kept; ++i) c[i].prob = float(c[i].prob / sum);
  };
  normalise(1.0f);
  if (p.top_p < 1.0f) {
    double mass = 0.0;
    for (size_t i = 0; i < kept; ++i) {
      mass += c[i].prob;
      if (mass >= p.top_p) {
        kept = i + 1;
        break;
      }
    }
  }
  if (p.min_p > 0.0f) {
    size_t i = 1;
    while (i < kept && c[i].prob >= p.min_p * c[0].prob) ++i;
    kept = i;
  }
  normalise(p.temperature);
  const double r = double(rng() >> 11) * 0x1.0p-53;  // the sampler's uniform draw in [0, 1)
  double cum = 0.0;
  for (size_t i = 0; i < kept; ++i) {
    cum += c[i].prob;
    if (r < cum) return c[i].id;
  }
  return c[kept - 1].id;
}

TEST(Sampler, DrawsWhatAFullSortDraws) {
  // Logits on a coarse grid, so many tie and the order among ties (lower id first) decides which
  // token a draw lands on; both signs, and zeros of both signs, which compare equal.
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 3.0f);
  std::vector<float> wide(5000);
  for (float& x : wide) x = std::round(normal(rng) * 8.0f) / 8.0f;
  for (size_t i = 0; i < wide.size(); i += 3)
    if (wide[i] == 0.0f) wide[i] = -0.0f;
  const float pattern[] = {-0.0f, 0.5f, 0.0f, -1.0f};
  std::vector<float> flat(300);
  for (size_t i = 0; i < flat.size(); ++i) flat[i] = pattern[i % 4];
  struct Mix {
    float temperature;
    int32_t top_k;
    float top_p, min_p;
  };
  const Mix mixes[] = {
      {1.0f, 0, 1.0f, 0.0f},       // the whole vocabulary sorted, then only drawn from
      {2.5f, 0, 1.0f, 0.0f},       // ... with a temperature that reaches deep into it
      {0.7f, 0, 0.9f, 0.0f},       // top-p
      {1.3f, 0, 1.0f, 0.05f},      // min-p
      {1.0f, 0, 0.3f, 0.2f},       // both
      {0.8f, 40, 0.95f, 0.05f},    // top-k (a partial sort) and the rest, the defaults
      {1.0f, 7, 1.0f, 0.0f},       // top-k alone
      {1.5f, 100000, 0.6f, 0.0f},  // top-k beyond the vocabulary: the whole of it sorted
  };
  for (const std::vector<float>* logits : {&wide, &flat}) {
    for (const Mix& m : mixes) {
      SamplingParams p = plain(m.temperature);
      p.top_k = m.top_k;
      p.top_p = m.top_p;
      p.min_p = m.min_p;
      p.seed = 42;
      Sampler sampler(p, int32_t(logits->size()));
      std::mt19937_64 reference_rng(p.seed);
      for (int draw = 0; draw < 200; ++draw) {
        std::vector<float> l = *logits;
        ASSERT_EQ(sampler.sample(l.data(), {}), reference_draw(p, *logits, reference_rng))
            << "vocabulary " << logits->size() << ", temperature " << m.temperature << ", top-k " << m.top_k
            << ", top-p " << m.top_p << ", min-p " << m.min_p << ", draw " << draw;
      }
    }
  }
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
