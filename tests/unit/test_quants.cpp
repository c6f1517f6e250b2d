// Block-quantised formats: layouts, hand-checkable blocks, round-trip error on random data,
// the per-tensor type choice of `lumen quantize`, and the errors for bad requests. Bit-identity
// with an independent reading of the spec is tests/oracle/test_quant_numpy.py's job.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "formats/quantize_model.h"
#include "tensor/quants/block_formats.h"
#include "tensor/quants/quant_k.h"
#include "tensor/quants/quantize.h"
#include "util/error.h"

namespace lumen {
namespace {

using namespace quants;

constexpr DType kBlockTypes[] = {DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
                                 DType::Q4_K, DType::Q5_K, DType::Q6_K, DType::Q8_K};

std::vector<float> round_trip(DType t, const std::vector<float>& x) {
  std::vector<uint8_t> q(row_bytes(t, int64_t(x.size())));
  quantize_row(t, x.data(), q.data(), int64_t(x.size()));
  std::vector<float> y(x.size());
  dequantize_row_quantized(t, q.data(), y.data(), int64_t(x.size()));
  return y;
}

double relative_rms_error(const std::vector<float>& x, const std::vector<float>& y) {
  double err = 0, sig = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    err += double(x[i] - y[i]) * (x[i] - y[i]);
    sig += double(x[i]) * x[i];
  }
  return std::sqrt(err / sig);
}

TEST(Quants, BlockStructsMatchTheDTypeTable) {
  EXPECT_EQ(sizeof(BlockQ4_0), dtype_info(DType::Q4_0).block_bytes);
  EXPECT_EQ(sizeof(BlockQ4_1), dtype_info(DType::Q4_1).block_bytes);
  EXPECT_EQ(sizeof(BlockQ5_0), dtype_info(DType::Q5_0).block_bytes);
  EXPECT_EQ(sizeof(BlockQ5_1), dtype_info(DType::Q5_1).block_bytes);
  EXPECT_EQ(sizeof(BlockQ8_0), dtype_info(DType::Q8_0).block_bytes);
  EXPECT_EQ(sizeof(BlockQ4_K), dtype_info(DType::Q4_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ5_K), dtype_info(DType::Q5_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ6_K), dtype_info(DType::Q6_K).block_bytes);
  EXPECT_EQ(sizeof(BlockQ8_K), dtype_info(DType::Q8_K).block_bytes);
}

TEST(Quants, AllZeroBlocksStayZero) {
  const std::vector<float> zeros(512, 0.0f);
  for (DType t : kBlockTypes) EXPECT_EQ(round_trip(t, zeros), zeros) << dtype_name(t);
}

TEST(Quants, Q4_0OneLargeValue) {
  // The largest magnitude (8, positive) maps to level 0: d = 8 / -8 = -1, zero to level 8.
  std::vector<float> x(32, 0.0f);
  x[3] = 8.0f;
  BlockQ4_0 b;
  quantize_row(DType::Q4_0, x.data(), &b, 32);
  EXPECT_EQ(b.d, f32_to_f16(-1.0f));
  for (int j = 0; j < 16; ++j) EXPECT_EQ(b.qs[j], j == 3 ? 0x80 : 0x88) << j;
  EXPECT_EQ(round_trip(DType::Q4_0, x), x);
}

TEST(Quants, Q8_0RoundsToTheNearestStep) {
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[j] = float(j - 16) / 4;  // amax 4: step 4 / 127
  BlockQ8_0 b;
  quantize_row(DType::Q8_0, x.data(), &b, 32);
  EXPECT_EQ(b.qs[0], -127);
  EXPECT_EQ(b.qs[16], 0);
  EXPECT_EQ(b.qs[17], 8);   // 0.25 / (4 / 127) = 7.94
  EXPECT_EQ(b.qs[20], 32);  // 1.0 / (4 / 127) = 31.75
  const std::vector<float> y = round_trip(DType::Q8_0, x);
  for (int j = 0; j < 32; ++j) EXPECT_NEAR(y[j], x[j], 0.5 * 4 / 127 + 1e-3) << j;
}

TEST(Quants, ConstantBlocksOfTheAffineTypesAreExact) {
  // min == max: the scale is 0 and the minimum carries the value (0.75 is exact in half).
  const std::vector<float> x(256, 0.75f);
  for (DType t : {DType::Q4_1, DType::Q5_1}) EXPECT_EQ(round_trip(t, x), x) << dtype_name(t);
}

TEST(Quants, RandomRoundTripErrorIsBounded) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(256 * 9);
  for (float& v : x) v = normal(rng);
  const std::pair<DType, double> bounds[] = {{DType::Q4_0, 0.12}, {DType::Q4_1, 0.12}, {DType::Q5_0, 0.06},
                                             {DType::Q5_1, 0.06}, {DType::Q8_0, 0.01}, {DType::Q4_K, 0.10},
                                             {DType::Q5_K, 0.05}, {DType::Q6_K, 0.03}, {DType::Q8_K, 0.01}};
  for (const auto& [t, bound] : bounds) EXPECT_LT(relative_rms_error(x, round_trip(t, x)), bound) << dtype_name(t);
}

TEST(Quants, Q8_KBlockSumsAreTheSumsOfItsGroups) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(256);
  for (float& v : x) v = u(rng);
  BlockQ8_K b;
  quantize_row(DType::Q8_K, x.data(), &b, 256);
  for (int g = 0; g < 16; ++g) {
    int sum = 0;
    for (int l = 0; l < 16; ++l) sum += b.qs[16 * g + l];
    EXPECT_EQ(b.bsums[g], sum) << g;
  }
}

TEST(Quants, ScaleMinK4UnpacksSixBitFields) {
  // Sub-block 5: low 4 bits of scale/min in byte 9's nibbles, high 2 bits on top of bytes 1 / 5.
  uint8_t scales[12] = {};
  scales[9] = 0x3A;         // scale low 0xA, min low 0x3
  scales[1] = 0x2 << 6;     // scale high 2 bits = 2
  scales[5] = 0x1 << 6;     // min high 2 bits = 1
  const ScaleMin sm = scale_min_k4(scales, 5);
  EXPECT_EQ(sm.scale, 0x2A);
  EXPECT_EQ(sm.min, 0x13);
  scales[2] = 0x3F;  // sub-block 2: plain low 6 bits
  EXPECT_EQ(scale_min_k4(scales, 2).scale, 0x3F);
}

TEST(Quants, RowsThatAreNotWholeBlocksFail) {
  std::vector<float> x(48);
  std::vector<uint8_t> q(64);
  EXPECT_THROW(quantize_row(DType::Q4_0, x.data(), q.data(), 48), Error);
  EXPECT_THROW(dequantize_row_quantized(DType::Q4_K, q.data(), x.data(), 48), Error);
  EXPECT_THROW(quantize_tensor(DType::Q6_K, x.data(), 1, 48), Error);
  EXPECT_THROW(quantize_row(DType::Q2_K, x.data(), q.data(), 256), Error);  // not supported
}

TEST(Quants, FallbackTypes) {
  EXPECT_EQ(fallback_type(DType::Q4_K, 512), DType::Q4_K);
  EXPECT_EQ(fallback_type(DType::Q4_K, 96), DType::Q5_0);
  EXPECT_EQ(fallback_type(DType::Q5_K, 96), DType::Q5_1);
  EXPECT_EQ(fallback_type(DType::Q6_K, 64), DType::Q8_0);
  EXPECT_EQ(fallback_type(DType::Q4_K, 172), DType::F16);
  EXPECT_EQ(fallback_type(DType::Q4_0, 172), DType::F16);
}

TEST(Quants, UnknownPresetNameListsTheValidOnes) {
  EXPECT_EQ(find_quant_preset("Q4_K_M").base, DType::Q4_K);
  EXPECT_EQ(*find_quant_preset("Q4_K_M").ftype, 15u);
  try {
    find_quant_preset("Q4_X");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'Q4_X'"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("Q5_K_M"), std::string::npos);
  }
}

TEST(Quants, Q4_K_MMixFollowsLlamaCpp) {
  // 8 layers: use_more_bits picks layers 0, 3, 6 and 7 for Q6_K.
  QuantTypeChooser chooser(find_quant_preset("Q4_K_M"), {.n_layers = 8, .n_attention_v = 8, .tied_output = false});
  auto tensor = [](std::string name, int64_t cols) { return Tensor{std::move(name), DType::F32, {cols, 4}, nullptr}; };
  std::string notice;
  EXPECT_EQ(chooser.choose(tensor("output.weight", 256), &notice), DType::Q6_K);
  EXPECT_EQ(chooser.choose(tensor("token_embd.weight", 256), &notice), DType::Q4_K);
  const DType want[8] = {DType::Q6_K, DType::Q4_K, DType::Q4_K, DType::Q6_K,
                         DType::Q4_K, DType::Q4_K, DType::Q6_K, DType::Q6_K};
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(chooser.choose(tensor("blk." + std::to_string(i) + ".attn_v.weight", 256), &notice), want[i]) << i;
    EXPECT_EQ(chooser.choose(tensor("blk." + std::to_string(i) + ".ffn_down.weight", 256), &notice), want[i]) << i;
    EXPECT_EQ(chooser.choose(tensor("blk." + std::to_string(i) + ".attn_q.weight", 256), &notice), DType::Q4_K);
  }
  EXPECT_TRUE(notice.empty());
  EXPECT_EQ(chooser.choose(tensor("blk.0.ffn_up.weight", 96), &notice), DType::Q5_0);
  EXPECT_NE(notice.find("blk.0.ffn_up.weight"), std::string::npos);
}

}  // namespace
}  // namespace lumen
