// Q4_0 / Q8_0 / Q4_K / Q6_K weights repacked to Layout::Interleaved16 (kernels/packed_layout.h) and their
// kernels (packed_kernel.h), on every path this CPU has:
//  1. packing loses nothing: every row dequantized from the packed bytes equals the row
//     dequantized from the GGUF bytes, exactly;
//  2. the SIMD kernels equal the scalar twin bit for bit (same integers, same float order);
//  3. the packed product equals the row-major quantized product (kernels/qmatmul.h, tested
//     against the dequantized formula in test_qmatmul.cpp) within float rounding: both form the
//     same exact integer per block and differ only in the order the scaled blocks are summed,
//     so each is within 2e-5 * sum_c |w^_c x^_c| of the exact sum (n-term f32 sums err by
//     ~n 2^-24 of it) and the two within twice that of each other;
//  4. a token's outputs are bit-identical alone and inside a batch, for every thread count.
// Row counts are multiples of 16 (1, 3, 9 groups: the decode tiles of 4 groups and their
// remainder), row lengths 1 to 9 blocks (super-blocks for the K-quants), token counts on both sides of
// the prefill tile.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/cpu_features.h"
#include "quant_matmul_test.h"
#include "kernels/matmul.h"
#include "kernels/packed_layout.h"
#include "runtime/thread_pool.h"
#include "tensor/quants/quantize.h"

namespace lumen {
namespace {

using namespace testing_quant;

constexpr DType kTypes[] = {DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q6_K};
constexpr int kTokenCounts[] = {1, 2, 5, 9, 17, 70};
constexpr int64_t kRowCounts[] = {16, 48, 144};
constexpr int kBlockCounts[] = {1, 2, 3, 9};
constexpr float kFloatRounding = 2e-5f;

// A random quantized matrix, row-major as in a file, and the same matrix packed.
struct PackedWeights {
  std::vector<uint8_t> bytes, packed_bytes;
  Tensor rows, packed;
  PackedWeights(DType type, int64_t cols, int64_t n_rows, std::mt19937& rng) {
    bytes = quantize_tensor(type, random_values(cols * n_rows, rng).data(), n_rows, cols);
    rows = Tensor{"w", type, {cols, n_rows}, bytes.data()};
    packed_bytes.resize(lumen::packed_bytes(rows));
    pack_groups(rows, 0, n_rows / kPackRows, packed_bytes.data());
    packed = Tensor{"w", type, {cols, n_rows}, packed_bytes.data(), Layout::Interleaved16};
  }
};

class PackedMatmul : public PathAndType {};

TEST_P(PackedMatmul, PackingKeepsEveryValue) {
  std::mt19937 rng(5);
  const int64_t cols = 3 * block(), n_rows = 48;
  const PackedWeights w(type(), cols, n_rows, rng);
  std::vector<float> from_rows(cols), from_packed(cols);
  for (int64_t r = 0; r < n_rows; ++r) {
    dequantize_row(type(), w.rows.row(r), from_rows.data(), cols);
    dequantize_packed_row(w.packed, r, from_packed.data());
    ASSERT_EQ(from_packed, from_rows) << "row " << r;
  }
}

TEST_P(PackedMatmul, MatchesScalarTwinAndRowMajorKernel) {
  std::mt19937 rng(17);
  ThreadPool pool(2);
  for (int blocks : kBlockCounts) {
    const int64_t cols = blocks * block();
    for (int64_t n_rows : kRowCounts) {
      const PackedWeights w(type(), cols, n_rows, rng);
      const std::vector<float> values = dequantize_tensor(type(), w.bytes.data(), n_rows, cols);
      for (int n_tokens : kTokenCounts) {
        SCOPED_TRACE(testing::Message() << "cols " << cols << " rows " << n_rows << " tokens " << n_tokens);
        const std::vector<float> x = random_values(cols * n_tokens, rng);
        const std::vector<float> got = run(isa(), w.packed, x, n_tokens, pool);
        ASSERT_EQ(got, run(Isa::Scalar, w.packed, x, n_tokens, pool));
        // The row-major kernels of the same path (they, too, quantize x to Q8_0).
        const std::vector<float> row_major = run(isa(), w.rows, x, n_tokens, pool);
        for (int t = 0; t < n_tokens; ++t)
          for (int64_t r = 0; r < n_rows; ++r) {
            double scale = 0;  // sum |w^ x|: within 1 % of sum |w^ x^|, covered by the factor 2
            for (int64_t c = 0; c < cols; ++c) scale += std::fabs(double(values[r * cols + c]) * x[t * cols + c]);
            const size_t i = t * n_rows + r;
            ASSERT_NEAR(got[i], row_major[i], 2 * kFloatRounding * scale + 1e-30) << "row " << r << " token " << t;
          }
      }
    }
  }
}

TEST_P(PackedMatmul, BatchEqualsOneTokenAtATime) {
  std::mt19937 rng(99);
  ThreadPool pools[] = {ThreadPool(1), ThreadPool(2), ThreadPool(3)};
  const int64_t cols = 3 * block(), n_rows = 9 * kPackRows;
  const int n_tokens = 133;  // crosses a 128-token block and leaves a partial token tile
  const PackedWeights w(type(), cols, n_rows, rng);
  const std::vector<float> x = random_values(cols * n_tokens, rng);
  const std::vector<float> batch = run(isa(), w.packed, x, n_tokens, pools[1]);
  for (ThreadPool& pool : pools) {
    ASSERT_EQ(run(isa(), w.packed, x, n_tokens, pool), batch) << "threads " << pool.size();
    for (int t = 0; t < n_tokens; t += 11) {
      const std::vector<float> xt(x.begin() + t * cols, x.begin() + (t + 1) * cols);
      ASSERT_EQ(run(isa(), w.packed, xt, 1, pool),
                std::vector<float>(batch.begin() + t * n_rows, batch.begin() + (t + 1) * n_rows))
          << "token " << t << " threads " << pool.size();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllPaths, PackedMatmul,
                         ::testing::Combine(::testing::Values(Isa::Scalar, Isa::Avx2, Isa::Avx512),
                                            ::testing::ValuesIn(kTypes)),
                         path_and_type_name);

TEST(PackedLayout, OnlyPackableTypesWithWholeGroupsArePacked) {
  const uint8_t byte = 0;
  EXPECT_TRUE(can_pack(Tensor{"w", DType::Q4_0, {32, 16}, &byte}));
  EXPECT_TRUE(can_pack(Tensor{"w", DType::Q8_0, {64, 32}, &byte}));
  EXPECT_FALSE(can_pack(Tensor{"w", DType::Q8_0, {32, 24}, &byte}));  // 24 rows: not whole groups
  EXPECT_TRUE(can_pack(Tensor{"w", DType::Q4_K, {256, 16}, &byte}));
  EXPECT_TRUE(can_pack(Tensor{"w", DType::Q6_K, {256, 16}, &byte}));
  EXPECT_FALSE(can_pack(Tensor{"w", DType::Q5_K, {256, 16}, &byte}));
  EXPECT_FALSE(can_pack(Tensor{"w", DType::F16, {32, 16}, &byte}));
  EXPECT_FALSE(can_pack(Tensor{"w", DType::Q4_0, {32, 16}, &byte, Layout::Interleaved16}));
}

}  // namespace
}  // namespace lumen
