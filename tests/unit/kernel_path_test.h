#pragma once
// A test fixture run once per kernel path (scalar, AVX2, AVX-512; kernels/cpu_features.h): the
// path is forced for the test and restored after it, and a path the CPU lacks is skipped.
#include <gtest/gtest.h>

#include "kernels/cpu_features.h"

namespace lumen {

class KernelPathTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!isa_supported(GetParam())) GTEST_SKIP() << "CPU lacks " << isa_name(GetParam());
    set_kernel_isa(GetParam());
  }
  void TearDown() override { set_kernel_isa(saved_); }

 private:
  Isa saved_ = kernel_isa();
};

}  // namespace lumen
