// The AVX2 attention (attention.h: attend_avx2 for groups, attend_one_avx2 for a single query)
// against its scalar reference twin (attend_reference), query by query: every KV storage type
// pair, head sizes with and without an 8-value tail, groups of 1..8 query heads x 1..4
// consecutive tokens (each with its own end), spans over one and several chunks, positions
// scattered over a shuffled block table, a sliding window and per-head ALiBi slopes. Scratch and
// outputs start as NaN, so a read of anything the kernel did not write shows. Both compute the same products and differ only in rounding: scores
// within 1e-5 of sum |q k| / sqrt(d), which after the softmax and the weighted sum of values
// bounds each output by ~1e-5 * (1 + max|v|) — checked at 1e-4 * (1 + max|v|).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <span>
#include <vector>

#include "kernels/attention.h"
#include "kernels/cpu_features.h"
#include "tensor/quants/quantize.h"

namespace lumen {
namespace {

constexpr int32_t kBlockSize = 16;
constexpr int32_t kBlocks = 13;  // 208 positions

// Rows of kBlocks * kBlockSize cached values of `type`, position p in block blocks[p / 16].
struct Cache {
  std::vector<uint8_t> bytes;
  int64_t row_bytes;
  float max_abs = 0;
  Cache(DType type, int32_t head_dim, std::mt19937& rng) {
    row_bytes = int64_t(lumen::row_bytes(type, head_dim));
    bytes.resize(size_t(kBlocks) * kBlockSize * row_bytes);
    std::normal_distribution<float> normal;
    std::vector<float> values(head_dim);
    for (int32_t r = 0; r < kBlocks * kBlockSize; ++r) {
      for (float& v : values) {
        v = normal(rng);
        max_abs = std::max(max_abs, std::fabs(v));
      }
      quantize_row(type, values.data(), bytes.data() + r * row_bytes, head_dim);
    }
  }
  KvView view(DType type) const { return {bytes.data(), type, row_bytes}; }
};

// `heads` query heads of `rows` consecutive tokens, the last at position end - 1, with their
// inputs and outputs; window > 0 limits each token to its last `window` positions.
struct Group {
  std::vector<float> inputs, outputs;
  std::vector<AttentionQuery> queries;
  Group(int32_t heads, int32_t rows, int32_t end, int32_t window, bool alibi, int32_t head_dim, std::mt19937& rng) {
    std::normal_distribution<float> normal;
    const int32_t first_row = std::max(0, rows - end);  // rows before position 0 do not exist
    const size_t n = size_t(rows - first_row) * heads;
    inputs.resize(n * head_dim);
    for (float& x : inputs) x = normal(rng);
    outputs.assign(n * head_dim, NAN);
    for (int32_t r = first_row; r < rows; ++r)
      for (int32_t h = 0; h < heads; ++h) {
        const size_t i = queries.size();
        const int32_t n_positions = end - (rows - 1 - r);
        queries.push_back({&inputs[i * head_dim], &outputs[i * head_dim], n_positions,
                           window > 0 ? std::max(0, n_positions - window) : 0, alibi ? 0.5f / float(h + 1) : 0.0f});
      }
  }
};

// Every query's output against attend_reference's, at the header's bound.
void expect_reference_outputs(const KvHead& kv, std::span<const AttentionQuery> queries, float max_abs_value) {
  std::vector<float> twin(kv.head_dim);
  for (const AttentionQuery& q : queries) {
    std::vector<float> scores(q.n_positions);
    attend_reference(kv, {q.query, twin.data(), q.n_positions, q.first_position, q.alibi_slope}, scores.data());
    for (int32_t i = 0; i < kv.head_dim; ++i)
      ASSERT_NEAR(q.out[i], twin[i], 1e-4f * (1 + max_abs_value)) << "query ending at " << q.n_positions << ", value " << i;
  }
}

TEST(Attention, Avx2MatchesScalarTwinPerQuery) {
  if (!isa_supported(Isa::Avx2)) GTEST_SKIP() << "this CPU has no AVX2";
  std::mt19937 rng(11);
  std::vector<int32_t> blocks(kBlocks);
  std::iota(blocks.begin(), blocks.end(), 0);
  std::shuffle(blocks.begin(), blocks.end(), rng);
  struct Shape {
    int32_t heads, rows;
  };
  const Shape shapes[] = {{1, 1}, {1, 4}, {2, 3}, {3, 1}, {4, 2}, {5, 1}, {8, 1}, {8, 4}};
  const DType types[] = {DType::F32, DType::F16, DType::Q8_0};
  for (DType key_type : types)
    for (DType value_type : types)
      for (int32_t head_dim : {8, 20, 64, 136}) {
        if ((key_type == DType::Q8_0 || value_type == DType::Q8_0) && head_dim % 32) continue;
        const Cache keys(key_type, head_dim, rng), values(value_type, head_dim, rng);
        const KvHead kv{keys.view(key_type), values.view(value_type), blocks.data(), kBlockSize, head_dim};
        for (const Shape& shape : shapes)
          for (int32_t end : {1, 3, 64, 65, 130, 208})
            for (int32_t window : {0, 50})
              for (bool alibi : {false, true}) {
                SCOPED_TRACE(testing::Message() << dtype_name(key_type) << "/" << dtype_name(value_type) << " d "
                                                << head_dim << " heads " << shape.heads << " rows " << shape.rows
                                                << " end " << end << " window " << window << " alibi " << alibi);
                Group group(shape.heads, shape.rows, end, window, alibi, head_dim, rng);
                std::vector<float> scratch(attention_scratch_floats(int32_t(group.queries.size()), end, head_dim), NAN);
                attend_avx2(kv, group.queries, scratch.data());
                ASSERT_NO_FATAL_FAILURE(expect_reference_outputs(kv, group.queries, values.max_abs));
                if (group.queries.size() == 1) {
                  std::fill(group.outputs.begin(), group.outputs.end(), NAN);
                  std::fill(scratch.begin(), scratch.end(), NAN);
                  attend_one_avx2(kv, group.queries[0], scratch.data());
                  ASSERT_NO_FATAL_FAILURE(expect_reference_outputs(kv, group.queries, values.max_abs));
                }
              }
      }
}

// Where the kernel ISA is scalar, attend() is the reference, query by query, to the bit.
TEST(Attention, ScalarIsaRunsTheReferencePerQuery) {
  std::mt19937 rng(5);
  std::vector<int32_t> blocks(kBlocks);
  std::iota(blocks.begin(), blocks.end(), 0);
  std::shuffle(blocks.begin(), blocks.end(), rng);
  const int32_t head_dim = 64;
  const Cache keys(DType::F16, head_dim, rng), values(DType::Q8_0, head_dim, rng);
  const KvHead kv{keys.view(DType::F16), values.view(DType::Q8_0), blocks.data(), kBlockSize, head_dim};
  Group group(4, 3, 100, 40, true, head_dim, rng);
  const Isa isa = kernel_isa();
  set_kernel_isa(Isa::Scalar);
  std::vector<float> scratch(attention_scratch_floats(int32_t(group.queries.size()), 100, head_dim));
  attend(kv, group.queries, scratch.data());
  set_kernel_isa(isa);
  std::vector<float> twin(head_dim);
  for (const AttentionQuery& q : group.queries) {
    attend_reference(kv, {q.query, twin.data(), q.n_positions, q.first_position, q.alibi_slope}, scratch.data());
    for (int32_t i = 0; i < head_dim; ++i) ASSERT_EQ(q.out[i], twin[i]);
  }
}

}  // namespace
}  // namespace lumen
