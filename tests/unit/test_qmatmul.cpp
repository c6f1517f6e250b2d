// The quantized matrix products (kernels/qmatmul.h): every quant type on every path this CPU
// has, on odd row counts, rows of 1 to 9 blocks and token counts on both sides of the decode /
// prefill switch. Three checks:
//  1. the SIMD kernels equal the scalar twin within float rounding: both compute the same
//     exact integer dot product per block and differ only in the order the scaled blocks are
//     summed in f32, so |simd - twin| <= 2e-5 * sum_c |w^_c x^_c| (w^, x^ the dequantized
//     weights and activations; n-term f32 sums err by ~n * 2^-24 of that, n <= 72 here);
//     AVX2 and AVX-512 give bit-identical outputs (vpmaddubsw pairs never saturate);
//  2. the scalar twin equals sum_c w^_c x^_c (in double) within the same float rounding: its
//     integer arithmetic is the dequantized dot product;
//  3. against matmul_reference (dequantized weights, unquantized f32 activations) the twin
//     differs by the activation quantization only: each activation moves by at most
//     0.57 * d of its block (d = max|x| / 127: half a step, plus Q8_0's rounding of d to f16,
//     127 * 2^-11 * d), so |twin - ref| <= sum_c |w^_c| * 0.57 * d(c) + 2e-5 * sum_c |w^_c x_c|.
// And batch invariance: each token's outputs inside a batch of 70 are bit-identical to the
// same token alone, for every thread count.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu_features.h"
#include "quant_matmul_test.h"
#include "kernels/matmul.h"
#include "kernels/qgemm_kernel.h"
#include "kernels/qmatmul.h"
#include "runtime/thread_pool.h"
#include "tensor/quants/quantize.h"
#include "util/error.h"

namespace lumen {
namespace {

using namespace testing_quant;

constexpr DType kTypes[] = {DType::Q8_0, DType::Q4_0, DType::Q4_1, DType::Q5_0,
                            DType::Q5_1, DType::Q4_K, DType::Q5_K, DType::Q6_K};
constexpr int kTokenCounts[] = {1, 2, 5, 17, 70};
constexpr int64_t kRowCounts[] = {1, 3, 65, 131};
constexpr int kBlockCounts[] = {1, 2, 3, 9};  // row lengths in blocks of the type
constexpr float kFloatRounding = 2e-5f;

// A random weight matrix quantized to `type`, and its dequantized values.
struct QuantWeights {
  std::vector<uint8_t> bytes;
  std::vector<float> values;
  Tensor tensor;
  QuantWeights(DType type, int64_t cols, int64_t rows, std::mt19937& rng) {
    bytes = quantize_tensor(type, random_values(cols * rows, rng).data(), rows, cols);
    values = dequantize_tensor(type, bytes.data(), rows, cols);
    tensor = Tensor{"w", type, {cols, rows}, bytes.data()};
  }
};

// The activations as the kernels see them: quantized to activation_type(type) and back.
std::vector<float> quantized_activations(DType type, const std::vector<float>& x, int64_t cols) {
  const int64_t rows = int64_t(x.size()) / cols;
  const DType act = activation_type(type);
  return dequantize_tensor(act, quantize_tensor(act, x.data(), rows, cols).data(), rows, cols);
}

class QuantMatmul : public PathAndType {};

TEST_P(QuantMatmul, MatchesScalarTwinAndReference) {
  std::mt19937 rng(17);
  ThreadPool pool(2);
  for (int blocks : kBlockCounts) {
    const int64_t cols = blocks * block();
    for (int64_t rows : kRowCounts) {
      const QuantWeights w(type(), cols, rows, rng);
      for (int n_tokens : kTokenCounts) {
        SCOPED_TRACE(testing::Message() << "cols " << cols << " rows " << rows << " tokens " << n_tokens);
        const std::vector<float> x = random_values(cols * n_tokens, rng);
        const std::vector<float> xq = quantized_activations(type(), x, cols);
        const std::vector<float> got = run(isa(), w.tensor, x, n_tokens, pool);
        const std::vector<float> twin = run(Isa::Scalar, w.tensor, x, n_tokens, pool);
        std::vector<float> ref(rows * n_tokens);
        matmul_reference(w.tensor, x.data(), ref.data(), n_tokens);
        for (int t = 0; t < n_tokens; ++t) {
          for (int64_t r = 0; r < rows; ++r) {
            const float* wr = &w.values[r * cols];
            const float* xt = &x[t * cols];
            const float* qt = &xq[t * cols];
            double exact = 0, scale = 0, act_error = 0, ref_scale = 0;
            for (int64_t c0 = 0; c0 < cols; c0 += block()) {
              float amax = 0;
              for (int64_t c = c0; c < c0 + block(); ++c) amax = std::max(amax, std::fabs(xt[c]));
              for (int64_t c = c0; c < c0 + block(); ++c) {
                exact += double(wr[c]) * qt[c];
                scale += std::fabs(double(wr[c]) * qt[c]);
                ref_scale += std::fabs(double(wr[c]) * xt[c]);
                act_error += std::fabs(wr[c]) * 0.57 * amax / 127;
              }
            }
            const size_t i = t * rows + r;
            ASSERT_NEAR(got[i], twin[i], kFloatRounding * scale + 1e-30) << "row " << r << " token " << t;
            ASSERT_NEAR(twin[i], exact, kFloatRounding * scale + 1e-30) << "row " << r << " token " << t;
            ASSERT_NEAR(twin[i], ref[i], act_error + kFloatRounding * ref_scale) << "row " << r << " token " << t;
          }
        }
      }
    }
  }
}

// A token's outputs do not depend on which other tokens share the call or on the thread count.
TEST_P(QuantMatmul, BatchEqualsOneTokenAtATime) {
  std::mt19937 rng(99);
  ThreadPool pools[] = {ThreadPool(1), ThreadPool(2), ThreadPool(3)};
  const int64_t cols = 3 * block(), rows = 67;
  const int n_tokens = 70;  // crosses a 64-token block and leaves a partial token tile
  const QuantWeights w(type(), cols, rows, rng);
  const std::vector<float> x = random_values(cols * n_tokens, rng);
  const std::vector<float> batch = run(isa(), w.tensor, x, n_tokens, pools[1]);
  for (ThreadPool& pool : pools) {
    ASSERT_EQ(run(isa(), w.tensor, x, n_tokens, pool), batch) << "threads " << pool.size();
    for (int t = 0; t < n_tokens; ++t) {
      const std::vector<float> xt(x.begin() + t * cols, x.begin() + (t + 1) * cols);
      ASSERT_EQ(run(isa(), w.tensor, xt, 1, pool), std::vector<float>(batch.begin() + t * rows, batch.begin() + (t + 1) * rows))
          << "token " << t << " threads " << pool.size();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllPaths, QuantMatmul,
                         ::testing::Combine(::testing::Values(Isa::Scalar, Isa::Avx2, Isa::Avx512),
                                            ::testing::ValuesIn(kTypes)),
                         path_and_type_name);

// Both SIMD paths compute the same integers and sum them in the same order.
TEST(QuantMatmulPaths, Avx2EqualsAvx512Exactly) {
  if (!isa_supported(Isa::Avx512) || !isa_supported(Isa::Avx2)) GTEST_SKIP() << "needs AVX2 and AVX-512";
  const Isa saved = kernel_isa();
  std::mt19937 rng(3);
  ThreadPool pool(2);
  for (DType type : kTypes) {
    const int64_t cols = 5 * dtype_info(type).block_elems;
    const QuantWeights w(type, cols, 33, rng);
    const std::vector<float> x = random_values(cols * 9, rng);
    EXPECT_EQ(run(Isa::Avx2, w.tensor, x, 9, pool), run(Isa::Avx512, w.tensor, x, 9, pool)) << dtype_name(type);
  }
  set_kernel_isa(saved);
}

// The SIMD activation quantizer is the project's quantize_row_q8_0, bit for bit, ties included.
TEST(QuantMatmulPaths, SimdActivationQuantizerEqualsQuantizeRow) {
  const QuantizeQ8_0 fast = quantize_q8_0_avx2();
  if (!fast || !isa_supported(Isa::Avx2)) GTEST_SKIP() << "needs AVX2";
  std::mt19937 rng(5);
  std::vector<float> x = random_values(32 * 40, rng);
  for (int j = 0; j < 32; ++j) x[j] = (float(j) - 15.5f) * 0.125f;  // x / d = j - 15.5: ties
  x[31] = 127 * 0.125f;  // amax, so that d = 0.125 exactly
  for (int j = 32; j < 64; ++j) x[j] = 0;               // all zero: d = 0
  for (int j = 64; j < 96; ++j) x[j] *= 1e-30f;         // subnormal scale
  std::vector<quants::BlockQ8_0> want(40), got(40);
  quantize_row(DType::Q8_0, x.data(), want.data(), int64_t(x.size()));
  fast(x.data(), got.data(), int64_t(x.size()));
  for (int b = 0; b < 40; ++b) {
    EXPECT_EQ(got[b].d, want[b].d) << "block " << b;
    EXPECT_EQ(std::vector<int8_t>(got[b].qs, got[b].qs + 32), std::vector<int8_t>(want[b].qs, want[b].qs + 32))
        << "block " << b;
  }
}

TEST(QuantMatmulPaths, SimdQ8KQuantizerEqualsQuantizeRow) {
  const QuantizeQ8_K fast = quantize_q8_k_avx2();
  if (!fast || !isa_supported(Isa::Avx2)) GTEST_SKIP() << "needs AVX2";
  std::mt19937 rng(6);
  std::vector<float> x = random_values(256 * 12, rng);
  // Ties at many levels; the largest magnitude, 15.75, first taken by a negative value (x[0]).
  for (int j = 0; j < 256; ++j) x[j] = (float(j % 64) - 31.5f) * 0.5f;
  for (int j = 256; j < 512; ++j) x[j] = 0;                            // all zero: d = 0
  for (int j = 512; j < 768; ++j) x[j] = j % 2 ? 3.0f : -3.0f;         // equal magnitudes: the first wins
  for (int j = 768; j < 1024; ++j) x[j] *= 1e-30f;                     // tiny values
  std::vector<quants::BlockQ8_K> want(12), got(12);
  quantize_row(DType::Q8_K, x.data(), want.data(), int64_t(x.size()));
  fast(x.data(), got.data(), int64_t(x.size()));
  for (int b = 0; b < 12; ++b) {
    EXPECT_EQ(got[b].d, want[b].d) << "block " << b;
    EXPECT_EQ(std::vector<int8_t>(got[b].qs, got[b].qs + 256), std::vector<int8_t>(want[b].qs, want[b].qs + 256))
        << "block " << b;
    EXPECT_EQ(std::vector<int16_t>(got[b].bsums, got[b].bsums + 16), std::vector<int16_t>(want[b].bsums, want[b].bsums + 16))
        << "block " << b;
  }
}

TEST(QuantMatmulPaths, DequantizeRowHandlesEveryQuantType) {
  std::mt19937 rng(8);
  for (DType type : kTypes) {
    const QuantWeights w(type, dtype_info(type).block_elems, 2, rng);
    std::vector<float> row(w.tensor.row_length());
    dequantize_row(type, w.tensor.row(1), row.data(), w.tensor.row_length());
    EXPECT_EQ(row, std::vector<float>(w.values.begin() + w.tensor.row_length(), w.values.end())) << dtype_name(type);
  }
}

TEST(QuantMatmulPaths, RowNotWholeBlocksFailsClearly) {
  ThreadPool pool(1);
  std::vector<uint8_t> bytes(1024);
  const Tensor w{"w", DType::Q4_K, {64, 1}, bytes.data()};
  std::vector<float> x(64), y(1);
  EXPECT_THROW(matmul(w, x.data(), y.data(), 1, pool), Error);
}

}  // namespace
}  // namespace lumen
