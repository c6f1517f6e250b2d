#pragma once
// Element-wise and per-row operations of the decoder block (seed 003: RMSNorm, RoPE, softmax,
// SwiGLU). These cost little next to the matrix products; they are written once, plainly.
#include <cstdint>

namespace lumen {

// out[i] = x[i] / sqrt(mean(x^2) + eps) * weight[i]   (out may alias x)
void rmsnorm(float* out, const float* x, const float* weight, int64_t n, float eps);

// In-place softmax over n values.
void softmax(float* x, int64_t n);

// gate[i] = silu(gate[i]) * up[i], silu(v) = v / (1 + exp(-v))
void swiglu(float* gate, const float* up, int64_t n);

// out[i] += x[i]
void add_into(float* out, const float* x, int64_t n);

}  // namespace lumen
