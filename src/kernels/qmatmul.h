#pragma once
// The matrix product for block-quantized weights (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K,
// Q6_K), behind kernels/matmul.h's matmul(): the activations are quantized once per token row
// (activation_type), then every weight block meets every activation block in an exact integer
// dot product scaled once in float (kernels/qgemm_kernel.h).
#include <span>

#include "kernels/matmul.h"
#include "runtime/thread_pool.h"
#include "tensor/tensor.h"

namespace lumen {

// The type activations are quantized to for weights of type t: Q8_0 for the 32-value types,
// Q8_K for the K-quants; F32 for types without a quantized kernel.
DType activation_type(DType t);

inline bool has_quantized_kernel(DType t) { return activation_type(t) != DType::F32; }

// matmul() for a weight type with has_quantized_kernel().
void qmatmul(const Tensor& w, const float* x, float* y, int n_tokens, ThreadPool& pool);

// The most matrices one shared pass takes (q, k, v need three).
constexpr size_t kMaxSharedOutputs = 4;

// Whether the matrices of `outs` can share one quantization of their input and one pass of the
// pool: all repacked (Layout::Interleaved16), of one row length, with the same activation
// blocks (the same activation type and quant offset), and at most kMaxSharedOutputs of them.
bool can_share_activations(std::span<const MatmulOutput> outs);

// matmul() of several matrices on one input for which can_share_activations() holds.
void qmatmul_packed(std::span<const MatmulOutput> outs, const float* x, int n_tokens, ThreadPool& pool);

}  // namespace lumen
