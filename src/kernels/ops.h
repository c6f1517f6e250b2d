#pragma once
// Element-wise and per-row operations of the decoder block (seed 003: RMSNorm, RoPE, softmax,
// SwiGLU). These cost little next to the matrix products; they are written once, plainly, except
// for the exp-bound softmax and SwiGLU, which have a SIMD form (below).
#include <cstdint>

namespace lumen {

// out[i] = x[i] / sqrt(mean(x^2) + eps) * weight[i]   (out may alias x)
void rmsnorm(float* out, const float* x, const float* weight, int64_t n, float eps);

// In-place softmax over n values.
void softmax(float* x, int64_t n);

// gate[i] = silu(gate[i]) * up[i], silu(v) = v / (1 + exp(-v))
void swiglu(float* gate, const float* up, int64_t n);

// log(sum_i exp(x[i])), the normalizer of a log-softmax: logprob(t) = x[t] - log_sum_exp (OpenAI's
// logprobs over a vocabulary). The sum is kept in double: 128K terms summed in float would lose
// the small ones.
double log_sum_exp(const float* x, int64_t n);

// softmax, swiglu and log_sum_exp run on the kernel path (kernels/cpu_features.h): on the SIMD
// paths with a polynomial exp within 2 ulp of std::exp (ops_avx2.cpp). These are their scalar
// reference twins, with std::exp (log_sum_exp's in double).
void softmax_reference(float* x, int64_t n);
void swiglu_reference(float* gate, const float* up, int64_t n);
double log_sum_exp_reference(const float* x, int64_t n);

// out[i] += x[i]
void add_into(float* out, const float* x, int64_t n);

// out[i] = (x[i] - mean) / sqrt(var + eps) * weight[i] + bias[i]   (bias may be null; out may alias x)
void layernorm(float* out, const float* x, const float* weight, const float* bias, int64_t n, float eps);

// x[i] = gelu(x[i]) with GPT-2's tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
void gelu_tanh(float* x, int64_t n);

// x[i] = gelu(x[i]) exactly, with the error function: 0.5 x (1 + erf(x / sqrt(2))) (BERT)
void gelu_erf(float* x, int64_t n);

// x[i] = max(x[i], 0) (the original Transformer's FFN, ResNet, GoogLeNet)
void relu(float* x, int64_t n);

// x[i] = min(max(x[i], 0), 6) (MobileNetV2: bounded for low-precision inference)
void relu6(float* x, int64_t n);

// The sinusoidal encoding of position `pos` ("Attention Is All You Need", 3.5), dim even:
// out[2i] = sin(pos / 10000^(2i/dim)), out[2i+1] = cos(pos / 10000^(2i/dim)).
void sinusoidal_position(float* out, int32_t pos, int32_t dim);

// x[r * n + i] += bias[i] for each of `rows` rows
void add_bias(float* x, const float* bias, int64_t rows, int64_t n);

// ALiBi slope of each of n_heads heads (BLOOM, Press et al.): for the largest power of two
// p <= n_heads, heads 0..p-1 get 2^(-8(h+1)/p); the rest take the odd steps 2^(-4(2j+1)/p).
void alibi_slopes(float* slopes, int32_t n_heads);

}  // namespace lumen
