// Perplexity arithmetic on distributions whose answers are known in closed form, and the base
// log-probabilities file's handling of bad input.
#include <gtest/gtest.h>

#include <cmath>
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

TEST(Perplexity, KlDivergenceMatchesTheClosedForm) {
  // base: p = softmax(log 3, 0, 0, ...) = (3, 1, ..., 1) / 10; this model: uniform 1/8.
  std::vector<float> peaked(kVocab, 0.0f);
  peaked[2] = std::log(3.0f);
  const std::vector<int32_t> tokens(16, 2);
  BaseLogProbs base;
  evaluate_perplexity(tokens, 8, 1, kVocab, constant(peaked), nullptr, &base);
  const auto r = evaluate_perplexity(tokens, 8, 1, kVocab, constant(std::vector<float>(kVocab, 0.0f)), &base, nullptr);
  // KL = sum p log(p / q) = 0.3 log(0.3 * 8) + 7 * 0.1 log(0.1 * 8)
  EXPECT_NEAR(r.kl_divergence, 0.3 * std::log(2.4) + 0.7 * std::log(0.8), 1e-6);
  EXPECT_EQ(r.top1_agreement, 0.0);  // uniform argmax is token 0, base's is token 2
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

class BaseFile : public ::testing::Test {
 protected:
  std::string path = ::testing::TempDir() + "lumen_base_" + std::to_string(::getpid()) + ".kl";
  void TearDown() override { std::remove(path.c_str()); }
  std::string saved_bytes() {
    BaseLogProbs b;
    evaluate_perplexity(std::vector<int32_t>(16, 2), 8, 1, kVocab, constant(std::vector<float>(kVocab)), nullptr, &b);
    b.save(path);
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  void write(const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }
};

TEST_F(BaseFile, RoundTrips) {
  saved_bytes();
  const BaseLogProbs b = BaseLogProbs::load(path);
  EXPECT_EQ(b.vocab, kVocab);
  EXPECT_EQ(b.tokens.size(), 16u);
  EXPECT_EQ(b.log_probs.size(), size_t(2 * 3 * kVocab));
}

TEST_F(BaseFile, WrongMagicIsAnError) {
  std::string bytes = saved_bytes();
  bytes[0] = 'X';
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
