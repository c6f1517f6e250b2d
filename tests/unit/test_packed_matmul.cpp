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
// Row counts are multiples of 16 (1, 3, 9 groups: the decode tiles of several groups and their
// remainder), row lengths 1 to 9 blocks (super-blocks for the K-quants), token counts on both sides of
// the prefill tile.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>
#include <vector>

#include "kernels/cpu_features.h"
#include "quant_matmul_test.h"
#include "kernels/matmul.h"
#include "kernels/packed_layout.h"
#include "kernels/qmatmul.h"
#include "runtime/thread_pool.h"
#include "tensor/quants/quantize.h"

namespace lumen {
namespace {

using namespace testing_quant;

constexpr DType kTypes[] = {DType::Q4_0, DType::Q8_0, DType::Q4_K, DType::Q6_K};
constexpr int kTokenCounts[] = {1, 2, 4, 5, 7, 9, 17, 70};
constexpr int64_t kRowCounts[] = {16, 48, 144};
constexpr int kBlockCounts[] = {1, 2, 3, 9};
constexpr float kFloatRounding = 2e-5f;

// A random quantized matrix, row-major as in a file, and the same matrix packed where it can be.
struct PackedWeights {
  std::vector<uint8_t> bytes, packed_bytes;
  Tensor rows, packed;
  PackedWeights(DType type, int64_t cols, int64_t n_rows, std::mt19937& rng) {
    bytes = quantize_tensor(type, random_values(cols * n_rows, rng).data(), n_rows, cols);
    rows = Tensor{"w", type, {cols, n_rows}, bytes.data()};
    if (!can_pack(rows)) return;  // e.g. F16: only the row-major tensor
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

// matmul() of several matrices on one input (kernels/matmul.h) equals one matmul() per matrix
// bit for bit on every path and thread count: sharing the quantized input and one pass of the
// pool changes which thread computes a group, never how. Mixes that cannot share the input
// (Q4_0 beside Q8_0: different quant offsets; F16; different row lengths) take the separate path.
TEST(SharedInputMatmul, EqualsOneMatmulPerMatrix) {
  struct Mix {
    std::vector<DType> types;
    std::vector<int64_t> rows;
    bool shared;
  };
  const Mix mixes[] = {
      {{DType::Q4_K, DType::Q4_K, DType::Q6_K}, {128, 32, 32}, true},  // Q4_K_M's q, k, v
      {{DType::Q4_0, DType::Q4_0}, {176, 48}, true},
      {{DType::Q8_0, DType::Q8_0, DType::Q8_0}, {16, 16, 64}, true},
      {{DType::Q4_0, DType::Q8_0}, {32, 32}, false},
      {{DType::Q4_K, DType::F16}, {32, 32}, false},
  };
  std::mt19937 rng(23);
  const int64_t cols = 512;  // two K-quant super-blocks, 16 blocks of 32
  ThreadPool pools[] = {ThreadPool(1), ThreadPool(2), ThreadPool(3)};
  const Isa saved = kernel_isa();
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (!isa_supported(isa)) continue;
    for (const Mix& mix : mixes) {
      std::vector<std::unique_ptr<PackedWeights>> packed;  // F16 is left row-major (not packable)
      std::vector<Tensor> tensors;
      for (size_t m = 0; m < mix.types.size(); ++m) {
        packed.push_back(std::make_unique<PackedWeights>(mix.types[m], cols, mix.rows[m], rng));
        tensors.push_back(mix.types[m] == DType::F16 ? packed.back()->rows : packed.back()->packed);
      }
      for (int n_tokens : {1, 3, 9}) {
        const std::vector<float> x = random_values(cols * n_tokens, rng);
        for (ThreadPool& pool : pools) {
          SCOPED_TRACE(testing::Message() << isa_name(isa) << " mix " << (&mix - mixes) << " tokens " << n_tokens
                                          << " threads " << pool.size());
          std::vector<std::vector<float>> together(tensors.size()), alone(tensors.size());
          std::vector<MatmulOutput> outs;
          for (size_t m = 0; m < tensors.size(); ++m) {
            together[m].assign(size_t(tensors[m].rows() * n_tokens), NAN);
            outs.push_back({&tensors[m], together[m].data()});
            alone[m] = run(isa, tensors[m], x, n_tokens, pool);
          }
          EXPECT_EQ(can_share_activations(outs), mix.shared);
          set_kernel_isa(isa);
          matmul(outs, x.data(), n_tokens, pool);
          for (size_t m = 0; m < tensors.size(); ++m) ASSERT_EQ(together[m], alone[m]) << "matrix " << m;
        }
      }
    }
  }
  set_kernel_isa(saved);
}

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
