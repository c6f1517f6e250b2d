#pragma once
// Matrix products with a weight matrix in any supported storage type.
//
// W has shape {cols, rows} (ggml order: each of the `rows` rows holds `cols` values), x holds
// n_tokens activations of length cols, y receives n_tokens outputs of length rows:
//     y[t * rows + r] = sum_c W[r][c] * x[t * cols + c]
// n_tokens == 1 is the decode case (matrix x vector, memory bound); larger counts are prefill
// (matrix x matrix, compute bound).
#include <cstdint>
#include <span>

#include "runtime/thread_pool.h"
#include "tensor/tensor.h"

namespace lumen {

// Weights may be F32, F16 or BF16 (other types fail with lumen::Error); they are widened
// exactly to f32 and multiplied with the f32 activations, so the fast paths differ from the
// reference only in summation order (relative error ~1e-6 of sum |w*x|). The SIMD path is
// chosen at run time (kernels/cpu_features.h); threads of `pool` split the rows. On a given
// path an output does not depend on the thread count nor on the other tokens of the call.
void matmul(const Tensor& w, const float* x, float* y, int n_tokens, ThreadPool& pool);

// Several matrices applied to the same input (attention's q, k, v; the FFN's gate and up):
// y = w x for each. Where their kernels can share the quantized input (kernels/qmatmul.h), it is
// quantized once and the threads split all the matrices' rows in one pass, which saves a pass
// of the pool per small matrix in decode; otherwise one matmul() after another. Outputs equal
// those of separate matmul() calls bit for bit.
struct MatmulOutput {
  const Tensor* w;
  float* y;
};
void matmul(std::span<const MatmulOutput> outs, const float* x, int n_tokens, ThreadPool& pool);

// Scalar reference twin: one row, one token at a time, in the order the formula reads, on
// weights widened (or dequantized) to f32 and unquantized activations.
void matmul_reference(const Tensor& w, const float* x, float* y, int n_tokens);

// Widens or dequantizes one stored row of n values to float (embedding lookup, tests).
void dequantize_row(DType type, const void* src, float* dst, int64_t n);

}  // namespace lumen
