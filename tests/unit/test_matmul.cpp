// Every SIMD path this CPU has, for every weight type, against the scalar reference on odd
// shapes (tails shorter than a register, row counts that are not whole tiles) and 1-3 threads.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/matmul.h"
#include "runtime/thread_pool.h"
#include "util/error.h"

namespace lumen {
namespace {

// A weight matrix of random values in [-1, 1], stored as `type` (rounded on the way down).
struct Weights {
  std::vector<uint8_t> bytes;
  Tensor tensor;
  Weights(DType type, int64_t cols, int64_t rows, std::mt19937& rng) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    bytes.resize(rows * row_bytes(type, cols));
    for (int64_t i = 0; i < cols * rows; ++i) {
      const float v = u(rng);
      if (type == DType::F32) {
        std::memcpy(bytes.data() + 4 * i, &v, 4);
      } else {
        const uint16_t h = type == DType::F16 ? f32_to_f16(v) : f32_to_bf16(v);
        std::memcpy(bytes.data() + 2 * i, &h, 2);
      }
    }
    tensor.type = type;
    tensor.shape = {cols, rows};
    tensor.data = bytes.data();
  }
};

std::vector<float> random_vector(int64_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& f : v) f = u(rng);
  return v;
}

// sum_c |W[r][c] * x[t][c]| for each output: the scale of the rounding error of any summation
// order, so the tolerance holds for long rows and for outputs that cancel to near zero.
std::vector<float> abs_scale(const Tensor& w, const std::vector<float>& x, int n_tokens) {
  const int64_t cols = w.row_length(), rows = w.rows();
  std::vector<float> row(cols), scale(rows * n_tokens);
  for (int64_t r = 0; r < rows; ++r) {
    dequantize_row(w.type, w.row(r), row.data(), cols);
    for (int t = 0; t < n_tokens; ++t) {
      double s = 0;
      for (int64_t c = 0; c < cols; ++c) s += std::fabs(row[c] * x[t * cols + c]);
      scale[t * rows + r] = float(s);
    }
  }
  return scale;
}

// Float32 summation of n terms in any order is within ~n * 2^-24 of sum |terms|; cols <= 257
// here, so 1e-5 bounds every order with margin, and a wrong element or a lost tail (an error of
// the size of one term, >= 1/cols of the scale on average) fails it.
constexpr float kRelTolerance = 1e-5f;

class MatmulPath : public ::testing::TestWithParam<std::tuple<Isa, DType>> {
 protected:
  void SetUp() override {
    if (!isa_supported(isa())) GTEST_SKIP() << "CPU lacks " << isa_name(isa());
    set_kernel_isa(isa());
  }
  void TearDown() override { set_kernel_isa(saved_); }
  Isa isa() const { return std::get<0>(GetParam()); }
  DType type() const { return std::get<1>(GetParam()); }

 private:
  Isa saved_ = kernel_isa();
};

TEST_P(MatmulPath, MatchesReferenceOnOddShapes) {
  std::mt19937 rng(1234);
  ThreadPool pools[] = {ThreadPool(1), ThreadPool(2), ThreadPool(3)};
  for (int64_t cols : {1, 7, 33, 100, 257}) {
    for (int64_t rows : {1, 3, 65, 131}) {
      Weights w(type(), cols, rows, rng);
      for (int n_tokens : {1, 2, 3, 5, 17}) {
        const std::vector<float> x = random_vector(cols * n_tokens, rng);
        std::vector<float> want(rows * n_tokens);
        matmul_reference(w.tensor, x.data(), want.data(), n_tokens);
        const std::vector<float> scale = abs_scale(w.tensor, x, n_tokens);
        std::vector<float> first;
        for (ThreadPool& pool : pools) {
          SCOPED_TRACE(testing::Message() << "cols " << cols << " rows " << rows << " tokens " << n_tokens
                                          << " threads " << pool.size());
          std::vector<float> got(rows * n_tokens, NAN);
          matmul(w.tensor, x.data(), got.data(), n_tokens, pool);
          for (size_t i = 0; i < got.size(); ++i)
            ASSERT_NEAR(got[i], want[i], kRelTolerance * scale[i] + 1e-30f) << "output " << i;
          // Each output is summed in the same order whatever the thread split.
          if (first.empty()) first = got;
          ASSERT_EQ(got, first);
        }
      }
    }
  }
}

// A token's outputs do not depend on which other tokens share the call, so a prompt processed
// as one batch gives the same numbers as the same tokens decoded one by one.
TEST_P(MatmulPath, BatchEqualsOneTokenAtATime) {
  std::mt19937 rng(99);
  ThreadPool pool(2);
  const int64_t cols = 100, rows = 67;
  const int n_tokens = 70;  // crosses a 64-token block
  Weights w(type(), cols, rows, rng);
  const std::vector<float> x = random_vector(cols * n_tokens, rng);
  std::vector<float> batch(rows * n_tokens), single(rows);
  matmul(w.tensor, x.data(), batch.data(), n_tokens, pool);
  for (int t = 0; t < n_tokens; ++t) {
    matmul(w.tensor, x.data() + t * cols, single.data(), 1, pool);
    ASSERT_EQ(std::vector<float>(batch.begin() + t * rows, batch.begin() + (t + 1) * rows), single) << "token " << t;
  }
}

INSTANTIATE_TEST_SUITE_P(AllPaths, MatmulPath,
                         ::testing::Combine(::testing::Values(Isa::Scalar, Isa::Avx2, Isa::Avx512),
                                            ::testing::Values(DType::F32, DType::F16, DType::BF16)),
                         [](const auto& info) {
                           return std::string(isa_name(std::get<0>(info.param))) + "_" +
                                  std::string(dtype_name(std::get<1>(info.param)));
                         });

TEST(Matmul, ZeroTokensWritesNothing) {
  std::mt19937 rng(5);
  ThreadPool pool(2);
  Weights w(DType::F32, 8, 4, rng);
  float y = 42.0f;
  matmul(w.tensor, nullptr, &y, 0, pool);
  EXPECT_EQ(y, 42.0f);
}

// Quantized types have their own tests (test_qmatmul.cpp); one without a kernel fails clearly.
TEST(Matmul, TypeWithoutKernelFailsClearly) {
  ThreadPool pool(1);
  std::vector<uint8_t> bytes(84);
  Tensor w{"q", DType::Q2_K, {256, 1}, bytes.data()};
  float x[256] = {}, y[1];
  EXPECT_THROW(matmul(w, x, y, 1, pool), Error);
  EXPECT_THROW(matmul_reference(w, x, y, 1), Error);
}

TEST(Matmul, DequantizeRowWidensExactly) {
  const uint16_t half[] = {0x3c00, 0xc000, 0x0001, 0x7bff};  // 1, -2, smallest subnormal, 65504
  const uint16_t bf[] = {0x3f80, 0xc000, 0x0001, 0x7f7f};
  float out[4];
  dequantize_row(DType::F16, half, out, 4);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -2.0f);
  EXPECT_EQ(out[2], std::ldexp(1.0f, -24));
  EXPECT_EQ(out[3], 65504.0f);
  dequantize_row(DType::BF16, bf, out, 4);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -2.0f);
  EXPECT_EQ(out[2], bf16_to_f32(0x0001));
  EXPECT_EQ(out[3], bf16_to_f32(0x7f7f));
}

TEST(CpuFeatures, ScalarAlwaysSupportedAndBestIsSupported) {
  EXPECT_TRUE(isa_supported(Isa::Scalar));
  EXPECT_TRUE(isa_supported(best_isa()));
  EXPECT_TRUE(isa_supported(kernel_isa()));
}

}  // namespace
}  // namespace lumen
