#pragma once
// What the quantized matmul tests share (test_qmatmul.cpp, test_packed_matmul.cpp): random
// inputs, a product on a chosen kernel path, and a fixture parameterised by path and weight type
// that skips paths this CPU lacks and restores the path afterwards.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/cpu_features.h"
#include "kernels/matmul.h"
#include "runtime/thread_pool.h"

namespace lumen::testing_quant {

inline std::vector<float> random_values(int64_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& f : v) f = u(rng);
  return v;
}

// y = w x on kernel path `isa`.
inline std::vector<float> run(Isa isa, const Tensor& w, const std::vector<float>& x, int n_tokens,
                              ThreadPool& pool) {
  set_kernel_isa(isa);
  std::vector<float> y(w.rows() * n_tokens, NAN);
  matmul(w, x.data(), y.data(), n_tokens, pool);
  return y;
}

class PathAndType : public ::testing::TestWithParam<std::tuple<Isa, DType>> {
 protected:
  void SetUp() override {
    if (!isa_supported(isa())) GTEST_SKIP() << "CPU lacks " << isa_name(isa());
  }
  void TearDown() override { set_kernel_isa(saved_); }
  Isa isa() const { return std::get<0>(GetParam()); }
  DType type() const { return std::get<1>(GetParam()); }
  int64_t block() const { return dtype_info(type()).block_elems; }

 private:
  Isa saved_ = kernel_isa();
};

// Test names "avx512_Q4_0" and so on.
inline std::string path_and_type_name(const ::testing::TestParamInfo<std::tuple<Isa, DType>>& info) {
  return std::string(isa_name(std::get<0>(info.param))) + "_" + std::string(dtype_name(std::get<1>(info.param)));
}

}  // namespace lumen::testing_quant
