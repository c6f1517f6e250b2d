// The AVX2 attention of one head (attention.h: attend_avx2) against its scalar reference twin
// (attend_reference), for every KV storage type pair, head sizes with and without a 64-value
// chunk and an 8-value tail, positions scattered over a shuffled block table, a sliding window
// and ALiBi. Both compute the same products and differ only in summation order: scores within
// 1e-5 of sum |q k| / sqrt(d), which after the softmax and the weighted sum of values bounds
// each output by ~1e-5 * (1 + max|v|) — checked at 1e-4 * (1 + max|v|).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/attention.h"
#include "kernels/cpu_features.h"
#include "tensor/quants/quantize.h"

namespace lumen {
namespace {

constexpr int32_t kBlockSize = 16;

// Rows of `positions` cached values of `type`, position p in block blocks[p / 16].
struct Cache {
  std::vector<uint8_t> bytes;
  int64_t row_bytes;
  float max_abs = 0;
  Cache(DType type, int32_t head_dim, const std::vector<int32_t>& blocks, std::mt19937& rng) {
    row_bytes = int64_t(lumen::row_bytes(type, head_dim));
    bytes.resize(size_t(blocks.size()) * kBlockSize * row_bytes);
    std::normal_distribution<float> normal;
    std::vector<float> values(head_dim);
    for (size_t r = 0; r < blocks.size() * kBlockSize; ++r) {
      for (float& v : values) {
        v = normal(rng);
        max_abs = std::max(max_abs, std::fabs(v));
      }
      quantize_row(type, values.data(), bytes.data() + r * row_bytes, head_dim);
    }
  }
  KvView view(DType type) const { return {bytes.data(), type, row_bytes}; }
};

TEST(Attention, Avx2MatchesScalarTwin) {
  if (!isa_supported(Isa::Avx2)) GTEST_SKIP() << "this CPU has no AVX2";
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  const DType types[] = {DType::F32, DType::F16, DType::Q8_0};
  for (DType key_type : types)
    for (DType value_type : types)
      for (int32_t head_dim : {8, 40, 64, 96, 128, 136}) {
        if ((key_type == DType::Q8_0 || value_type == DType::Q8_0) && head_dim % 32) continue;
        std::vector<int32_t> blocks(7);
        std::iota(blocks.begin(), blocks.end(), 0);
        std::shuffle(blocks.begin(), blocks.end(), rng);
        const Cache keys(key_type, head_dim, blocks, rng), values(value_type, head_dim, blocks, rng);
        std::vector<float> query(head_dim);
        for (float& q : query) q = normal(rng);
        for (int32_t n_positions : {1, 3, 17, 100}) {
          for (int32_t first : {0, n_positions / 2}) {
            for (float slope : {0.0f, 0.25f}) {
              SCOPED_TRACE(testing::Message() << dtype_name(key_type) << "/" << dtype_name(value_type) << " d "
                                              << head_dim << " n " << n_positions << " first " << first << " slope "
                                              << slope);
              AttentionHead h{query.data(), keys.view(key_type), values.view(value_type), blocks.data(), kBlockSize,
                              head_dim, n_positions, first, slope};
              std::vector<float> scratch(n_positions), twin(head_dim, NAN), simd(head_dim, NAN);
              attend_reference(h, scratch.data(), twin.data());
              attend_avx2(h, scratch.data(), simd.data());
              for (int32_t i = 0; i < head_dim; ++i)
                ASSERT_NEAR(simd[i], twin[i], 1e-4f * (1 + values.max_abs)) << "value " << i;
            }
          }
        }
      }
}

}  // namespace
}  // namespace lumen
