// The SIMD KV row operations against their scalar twin, for every cache storage type, on row
// lengths with and without a tail.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/kv_rows.h"
#include "tensor/quants/quantize.h"

namespace lumen {
namespace {

std::vector<uint8_t> stored_row(DType type, const std::vector<float>& values) {
  std::vector<uint8_t> row(row_bytes(type, int64_t(values.size())));
  quantize_row(type, values.data(), row.data(), int64_t(values.size()));
  return row;
}

TEST(KvRows, SimdMatchesScalarTwin) {
  if (!isa_supported(Isa::Avx2)) GTEST_SKIP() << "this CPU has no AVX2";
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  for (DType type : {DType::F32, DType::F16, DType::Q8_0}) {
    for (int32_t n : {1, 7, 8, 13, 32, 64, 101, 128}) {
      if (type == DType::Q8_0 && n % 32) continue;  // whole blocks only, as the cache stores them
      std::vector<float> q(n), v(n), out_scalar(n, 0.5f), out_simd(n, 0.5f);
      for (auto* vec : {&q, &v})
        for (float& x : *vec) x = normal(rng);
      const auto row = stored_row(type, v);
      float bound = 0;
      for (int32_t i = 0; i < n; ++i) bound += std::abs(q[i] * v[i]);
      const float a = kv_row_ops_scalar().dot(q.data(), row.data(), type, n);
      const float b = kv_row_ops_avx2().dot(q.data(), row.data(), type, n);
      EXPECT_NEAR(a, b, 1e-5f * bound + 1e-6f) << dtype_name(type) << " n=" << n;
      kv_row_ops_scalar().axpy(0.75f, row.data(), type, n, out_scalar.data());
      kv_row_ops_avx2().axpy(0.75f, row.data(), type, n, out_simd.data());
      for (int32_t i = 0; i < n; ++i) EXPECT_NEAR(out_scalar[i], out_simd[i], 1e-6f) << dtype_name(type) << " i=" << i;
    }
  }
}

}  // namespace
}  // namespace lumen
