#pragma once
// Internal interface between ops.cpp and the SIMD forms of its exp-based operations
// (ops_avx2.cpp): softmax, SwiGLU and log_sum_exp spend nearly all their time in exp, which the
// C library computes one value at a time.
#include <cstdint>

namespace lumen {

struct ExpOps {
  void (*softmax)(float* x, int64_t n);
  void (*swiglu)(float* gate, const float* up, int64_t n);
  double (*log_sum_exp)(const float* x, int64_t n);
};

// The AVX2 + FMA forms; nullptr in a build for another architecture.
const ExpOps* exp_ops_avx2();

}  // namespace lumen
