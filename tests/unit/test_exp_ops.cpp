// softmax, SwiGLU and log_sum_exp on the SIMD paths (kernels/ops_avx2.cpp: a polynomial exp) against their
// scalar twins (std::exp), on random odd-sized inputs and on the edges of exp's range. The
// polynomial is within 2 ulp of exp for normal results, so a SwiGLU output differs from the
// twin's by a few float roundings: checked at 8 ulp (1e-6 relative) plus the smallest normal
// float in absolute terms (results that underflow may flush to 0 on one side). softmax sums n
// terms in another order than the twin: both are held against the softmax computed in double,
// within the float summation bound (n + 16) ulp relative, plus the rounding of x - max (|x - max|
// ulp of the result).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernel_path_test.h"
#include "kernels/ops.h"

namespace lumen {
namespace {

constexpr float kRelative = 1e-6f;

void expect_close(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(want[i]) || std::isinf(want[i])) {
      EXPECT_TRUE(std::isnan(want[i]) ? std::isnan(got[i]) : got[i] == want[i]) << "value " << i << ": " << got[i];
      continue;
    }
    EXPECT_NEAR(got[i], want[i], kRelative * std::fabs(want[i]) + std::numeric_limits<float>::min()) << "value " << i;
  }
}

using ExpOps = KernelPathTest;

std::vector<float> random_values(int64_t n, float spread, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, spread);
  std::vector<float> v(n);
  for (float& f : v) f = normal(rng);
  return v;
}

TEST_P(ExpOps, SoftmaxMatchesTwin) {
  std::mt19937 rng(3);
  for (int64_t n : {1, 7, 8, 9, 31, 100, 32001})
    for (float spread : {0.1f, 3.0f, 40.0f}) {
      SCOPED_TRACE(testing::Message() << "n " << n << " spread " << spread);
      const std::vector<float> got_in = random_values(n, spread, rng);
      std::vector<float> got = got_in, twin = got;
      std::vector<double> exact(got.begin(), got.end());
      const double max = *std::max_element(exact.begin(), exact.end());
      double sum = 0;
      for (double& e : exact) sum += (e = std::exp(e - max));
      softmax(got.data(), n);
      softmax_reference(twin.data(), n);
      for (int64_t i = 0; i < n; ++i) {
        // exp of the rounded float x - max, whose rounding is |x - max| ulp of the result
        const double bound = (double(n + 16) + std::fabs(double(got_in[i]) - max)) * std::ldexp(1.0, -24);
        const double want = exact[i] / sum, slack = bound * want + std::numeric_limits<float>::min();
        ASSERT_NEAR(got[i], want, slack) << "value " << i;
        ASSERT_NEAR(twin[i], want, slack) << "twin, value " << i;
      }
    }
}

TEST_P(ExpOps, SoftmaxOfMaskedScores) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> got = {-inf, 0.5f, -inf, -inf, 2.0f, -inf, -inf, -inf, -inf, 1.0f, -inf}, want = got;
  softmax(got.data(), int64_t(got.size()));
  softmax_reference(want.data(), int64_t(want.size()));
  expect_close(got, want);
  EXPECT_EQ(got[0], 0.0f);
}

TEST_P(ExpOps, SwigluMatchesTwin) {
  std::mt19937 rng(4);
  for (int64_t n : {1, 5, 8, 13, 64, 5633})
    for (float spread : {0.5f, 4.0f, 60.0f}) {
      SCOPED_TRACE(testing::Message() << "n " << n << " spread " << spread);
      std::vector<float> got = random_values(n, spread, rng), want = got;
      const std::vector<float> up = random_values(n, 1.0f, rng);
      swiglu(got.data(), up.data(), n);
      swiglu_reference(want.data(), up.data(), n);
      expect_close(got, want);
    }
}

// exp's edges: overflow of exp(-g) (g below -88.7), denormal and zero results, infinities, NaN.
TEST_P(ExpOps, SwigluAtTheEdgesOfExp) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> gate = {-1000.0f, -104.5f, -88.8f, -88.7f, -87.4f, -20.0f, -1e-30f, 0.0f,
                             1e-30f,    20.0f,   87.4f,  88.7f,  103.0f, 104.5f, 1000.0f, inf,
                             -inf,      nan,     0.75f};
  const std::vector<float> up(gate.size(), 1.5f);
  std::vector<float> want = gate;
  swiglu(gate.data(), up.data(), int64_t(gate.size()));
  swiglu_reference(want.data(), up.data(), int64_t(want.size()));
  expect_close(gate, want);
}

// Against the exact normalizer (double throughout): each term exp(x - max) is off by the
// rounding of the float x - max (|x - max| ulp) and exp's 2 ulp, so the sum's relative error, and
// with it the log's absolute error, is within (3 + max |x - max|) ulp of float.
TEST_P(ExpOps, LogSumExpMatchesTwin) {
  std::mt19937 rng(5);
  for (int64_t n : {1, 7, 8, 9, 100, 32003})
    for (float spread : {0.1f, 3.0f, 30.0f}) {
      SCOPED_TRACE(testing::Message() << "n " << n << " spread " << spread);
      const std::vector<float> x = random_values(n, spread, rng);
      const double max = *std::max_element(x.begin(), x.end()), min = *std::min_element(x.begin(), x.end());
      double sum = 0;
      for (float v : x) sum += std::exp(double(v) - max);
      const double exact = max + std::log(sum), bound = (3 + (max - min)) * std::ldexp(1.0, -24);
      EXPECT_NEAR(log_sum_exp(x.data(), n), exact, bound);
      EXPECT_NEAR(log_sum_exp_reference(x.data(), n), exact, 1e-12 * std::fabs(exact) + 1e-12);
    }
  // Masked entries (-inf) add nothing, in the whole registers and in the tail.
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> masked = {-inf, 1.0f, -inf, -inf, -inf, -inf, -inf, -inf, -inf, 1.0f, -inf};
  EXPECT_NEAR(log_sum_exp(masked.data(), int64_t(masked.size())), 1.0 + std::log(2.0), 1e-7);
}

INSTANTIATE_TEST_SUITE_P(AllPaths, ExpOps, ::testing::Values(Isa::Scalar, Isa::Avx2, Isa::Avx512),
                         [](const ::testing::TestParamInfo<Isa>& info) { return std::string(isa_name(info.param)); });

}  // namespace
}  // namespace lumen
