// Perplexity arithmetic on distributions whose answers are known in closed form, llama-perplexity's
// windows and base-file layout, and the base file's handling of bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>

#include "runtime/perplexity.h"
#include "util/error.h"

namespace lumen {
namespace {

constexpr int32_t kVocab = 8;

// Every position predicts the same logits whatever the window.
WindowLogits constant(std::vector<float> row) {
  return [row](std::span<const int32_t> window) {
    std::vector<float> out;
    for (size_t i = 0; i < window.size(); ++i) out.insert(out.end(), row.begin(), row.end());
    return out;
  };
}

TEST(Perplexity, UniformPredictionsGiveTheVocabularySize) {
  const std::vector<int32_t> tokens(40, 3);
  const auto r = evaluate_perplexity(tokens, 8, 1, kVocab, constant(std::vector<float>(kVocab, 0.5f)), nullptr, nullptr);
  EXPECT_NEAR(r.perplexity, kVocab, 1e-5);  // log-probabilities are float
  EXPECT_EQ(r.scored, 5 * 3);  // 5 windows of 8, positions 4, 5, 6 scored in each
}

TEST(Perplexity, WindowsAreLlamaPerplexitysChunks) {
  // Tokens as tokenized (BOS 99 first), 20 of them: two windows of 8, the last 4 tokens unused.
  std::vector<int32_t> tokens{99};
  for (int32_t t = 1; t < 20; ++t) tokens.push_back(t);
  std::vector<std::vector<int32_t>> seen;
  const WindowLogits record_windows = [&](std::span<const int32_t> w) {
    seen.emplace_back(w.begin(), w.end());
    return std::vector<float>(w.size() * kVocab, 0.0f);
  };
  evaluate_perplexity(tokens, 8, 99, kVocab, record_windows, nullptr, nullptr);
  // Each window's first token is replaced by BOS; no token is dropped or shifted.
  EXPECT_EQ(seen, (std::vector<std::vector<int32_t>>{{99, 1, 2, 3, 4, 5, 6, 7}, {99, 9, 10, 11, 12, 13, 14, 15}}));
  seen.clear();
  evaluate_perplexity(tokens, 8, -1, kVocab, record_windows, nullptr, nullptr);  // a vocabulary without BOS
  EXPECT_EQ(seen[1], (std::vector<int32_t>{8, 9, 10, 11, 12, 13, 14, 15}));
}

TEST(Perplexity, ScoresTheNextTokenAtPositionsHalfToContextMinusTwo) {
  // The model puts all its mass on token (position + 1) % kVocab, and the tokens are 0, 1, ..., 7
  // twice, so its prediction at position i is right only if it is scored against window[i + 1]:
  // any other pairing would score a token it gives e^-30. (Which positions are scored is pinned by
  // TopOneAgreementCountsMatchingArgmaxes.)
  std::vector<int32_t> tokens;
  for (int i = 0; i < 16; ++i) tokens.push_back(i % kVocab);
  const WindowLogits next = [](std::span<const int32_t> w) {
    std::vector<float> out(w.size() * kVocab, -30.0f);
    for (size_t i = 0; i < w.size(); ++i) out[i * kVocab + (i + 1) % kVocab] = 0.0f;
    return out;
  };
  const auto r = evaluate_perplexity(tokens, 8, 0, kVocab, next, nullptr, nullptr);
  EXPECT_EQ(r.scored, 2 * 3);
  EXPECT_NEAR(r.perplexity, 1.0, 1e-6);
}

TEST(Perplexity, KlDivergenceMatchesTheClosedForm) {
  // base: p = softmax(log 3, 0, 0, ...) = (3, 1, ..., 1) / 10; this model: uniform 1/8.
  std::vector<float> peaked(kVocab, 0.0f);
  peaked[2] = std::log(3.0f);
  const std::vector<int32_t> tokens(16, 2);
  BaseLogProbs base;
  evaluate_perplexity(tokens, 8, 1, kVocab, constant(peaked), nullptr, &base);
  const auto r = evaluate_perplexity(tokens, 8, 1, kVocab, constant(std::vector<float>(kVocab, 0.0f)), &base, nullptr);
  // KL = sum p log(p / q) = 0.3 log(0.3 * 8) + 7 * 0.1 log(0.1 * 8); the two stored levels are
  // the ends of the u16 range, exact up to float rounding.
  EXPECT_NEAR(r.kl_divergence, 0.3 * std::log(2.4) + 0.7 * std::log(0.8), 1e-6);
  EXPECT_EQ(r.top1_agreement, 0.0);  // uniform argmax is token 0, base's is token 2
}

TEST(Perplexity, TopOneAgreementCountsMatchingArgmaxes) {
  // Base: token 2 on top everywhere. This model: token 2 at even positions, token 5 at odd ones;
  // the scored positions are 4, 5, 6 of each window, so 2 of 3 agree.
  std::vector<float> peaked(kVocab, 0.0f);
  peaked[2] = 1.0f;
  const std::vector<int32_t> tokens(16, 2);
  BaseLogProbs base;
  evaluate_perplexity(tokens, 8, 1, kVocab, constant(peaked), nullptr, &base);
  const WindowLogits alternating = [](std::span<const int32_t> w) {
    std::vector<float> out(w.size() * kVocab, 0.0f);
    for (size_t i = 0; i < w.size(); ++i) out[i * kVocab + (i % 2 ? 5 : 2)] = 1.0f;
    return out;
  };
  EXPECT_DOUBLE_EQ(evaluate_perplexity(tokens, 8, 1, kVocab, alternating, &base, nullptr).top1_agreement, 2.0 / 3);
}

TEST(Perplexity, EqualTopValuesCountTheFirstAsTheArgmax) {
  // Tokens 2 and 5 tie for the top in both models: both argmaxes are token 2, so they agree.
  std::vector<float> tie(kVocab, 0.0f);
  tie[2] = tie[5] = 1.0f;
  const std::vector<int32_t> tokens(16, 2);
  BaseLogProbs base;
  evaluate_perplexity(tokens, 8, 1, kVocab, constant(tie), nullptr, &base);
  EXPECT_EQ(evaluate_perplexity(tokens, 8, 1, kVocab, constant(tie), &base, nullptr).top1_agreement, 1.0);
}

TEST(Perplexity, StoredLogProbsAreWithinHalfAStepOfTheExactOnes) {
  // Logits spanning more than the 16 nats the file keeps: those below max - 16 are stored as
  // the bottom of the range.
  const std::vector<float> logits{3.0f, -1.25f, 0.5f, -20.0f, 2.9f, -12.9f, 1.0f, -13.1f};
  BaseLogProbs base;
  evaluate_perplexity(std::vector<int32_t>(8, 0), 8, 1, kVocab, constant(logits), nullptr, &base);
  double sum = 0;
  for (float l : logits) sum += std::exp(double(l));
  const double step = 16.0 / 65535;
  std::vector<float> stored(kVocab);
  base.log_probs(0, stored.data());
  for (int v = 0; v < kVocab; ++v) {
    const double exact = std::max(double(logits[v]), 3.0 - 16) - std::log(sum);
    EXPECT_NEAR(stored[v], exact, step / 2 + 1e-5) << "token " << v;
  }
}

TEST(Perplexity, TooShortATextIsAnError) {
  const std::vector<int32_t> tokens(5, 3);
  EXPECT_THROW(evaluate_perplexity(tokens, 8, 1, kVocab, constant(std::vector<float>(kVocab)), nullptr, nullptr), Error);
}

TEST(Perplexity, BaseOnOtherTokensIsAnError) {
  BaseLogProbs base;
  evaluate_perplexity(std::vector<int32_t>(16, 2), 8, 1, kVocab, constant(std::vector<float>(kVocab)), nullptr, &base);
  EXPECT_THROW(evaluate_perplexity(std::vector<int32_t>(16, 3), 8, 1, kVocab, constant(std::vector<float>(kVocab)),
                                   &base, nullptr),
               Error);
}

TEST(Perplexity, BaseWithAnotherContextIsAnError) {
  BaseLogProbs base;
  evaluate_perplexity(std::vector<int32_t>(16, 2), 8, 1, kVocab, constant(std::vector<float>(kVocab)), nullptr, &base);
  EXPECT_THROW(evaluate_perplexity(std::vector<int32_t>(16, 2), 4, 1, kVocab, constant(std::vector<float>(kVocab)),
                                   &base, nullptr),
               Error);
}

class BaseFile : public ::testing::Test {
 protected:
  std::string path = ::testing::TempDir() + "lumen_base_" + std::to_string(::getpid()) + ".kld";
  void TearDown() override { std::remove(path.c_str()); }
  std::string read_bytes() {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  std::string saved_bytes() {
    BaseLogProbs b;
    evaluate_perplexity(std::vector<int32_t>(16, 2), 8, 1, kVocab, constant(std::vector<float>(kVocab)), nullptr, &b);
    b.save(path);
    return read_bytes();
  }
  void write(const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }
};

TEST_F(BaseFile, RoundTrips) {
  saved_bytes();
  const BaseLogProbs b = BaseLogProbs::load(path);
  EXPECT_EQ(b.context, 8);
  EXPECT_EQ(b.vocab, kVocab);
  EXPECT_EQ(b.windows, 2);
  EXPECT_EQ(b.tokens.size(), 16u);
  EXPECT_EQ(b.rows.size(), size_t(2 * 3 * (kVocab + 4)));
}

TEST_F(BaseFile, HasLlamaPerplexitysLayout) {
  // Vocabulary 3 (padded to 4 u16), context 4: one window, one scored position (index 2).
  // Logits 0, -16, -20 at that position: range [-16, 0], so scale 16/65535, q = 65535, 0, 0.
  const std::vector<float> row{0.0f, -16.0f, -20.0f};
  BaseLogProbs b;
  const WindowLogits logits = [&](std::span<const int32_t> w) {
    std::vector<float> out;
    for (size_t i = 0; i < w.size(); ++i) out.insert(out.end(), row.begin(), row.end());
    return out;
  };
  evaluate_perplexity(std::vector<int32_t>{1, 7, 8, 9, 10}, 4, 1, 3, logits, nullptr, &b);
  b.save(path);
  const std::string bytes = read_bytes();
  ASSERT_EQ(bytes.size(), 8 + 3 * 4 + 4 * 4 + (4 + 4) * 2u);
  EXPECT_EQ(bytes.substr(0, 8), "_logits_");
  const auto i32 = [&](size_t at) { int32_t v; std::memcpy(&v, &bytes[at], 4); return v; };
  const auto f32 = [&](size_t at) { float v; std::memcpy(&v, &bytes[at], 4); return v; };
  const auto u16 = [&](size_t at) { uint16_t v; std::memcpy(&v, &bytes[at], 2); return v; };
  EXPECT_EQ(i32(8), 4);   // context
  EXPECT_EQ(i32(12), 3);  // vocabulary
  EXPECT_EQ(i32(16), 1);  // windows
  EXPECT_EQ((std::vector<int32_t>{i32(20), i32(24), i32(28), i32(32)}), (std::vector<int32_t>{1, 7, 8, 9}));
  EXPECT_FLOAT_EQ(f32(36), 16.0f / 65535);
  EXPECT_NEAR(f32(40), -16 - std::log(1 + std::exp(-16.0) + std::exp(-20.0)), 1e-5);  // min_log_prob
  EXPECT_EQ((std::vector<uint16_t>{u16(44), u16(46), u16(48), u16(50)}), (std::vector<uint16_t>{65535, 0, 0, 0}));
}

TEST_F(BaseFile, WrongMagicIsAnError) {
  std::string bytes = saved_bytes();
  bytes[0] = 'X';
  write(bytes);
  EXPECT_THROW(BaseLogProbs::load(path), Error);
}

TEST_F(BaseFile, ImplausibleCountsAreAnError) {
  std::string bytes = saved_bytes();
  const int32_t huge = 1 << 30;
  std::memcpy(&bytes[16], &huge, 4);  // windows
  write(bytes);
  EXPECT_THROW(BaseLogProbs::load(path), Error);
}

TEST_F(BaseFile, TruncationAnywhereIsAnError) {
  const std::string bytes = saved_bytes();
  for (size_t n = 0; n < bytes.size(); n += 7) {
    write(bytes.substr(0, n));
    EXPECT_THROW(BaseLogProbs::load(path), Error) << "truncated to " << n;
  }
}

}  // namespace
}  // namespace lumen
