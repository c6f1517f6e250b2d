#include "kernels/ops.h"

#include <algorithm>
#include <cmath>

#include "kernels/cpu_features.h"
#include "kernels/ops_simd.h"

namespace lumen {

void rmsnorm(float* out, const float* x, const float* weight, int64_t n, float eps) {
  float ss = 0.0f;
  for (int64_t i = 0; i < n; ++i) ss += x[i] * x[i];
  const float scale = 1.0f / std::sqrt(ss / float(n) + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = weight[i] * (scale * x[i]);
}

void softmax_reference(float* x, int64_t n) {
  float max = x[0];
  for (int64_t i = 1; i < n; ++i) max = x[i] > max ? x[i] : max;
  float sum = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  for (int64_t i = 0; i < n; ++i) x[i] /= sum;
}

void swiglu_reference(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) gate[i] = gate[i] * (1.0f / (1.0f + std::exp(-gate[i]))) * up[i];
}

double log_sum_exp_reference(const float* x, int64_t n) {
  const float max = *std::max_element(x, x + n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(double(x[i]) - max);
  return max + std::log(sum);
}

namespace {
const ExpOps* simd_exp_ops() { return kernel_isa() == Isa::Scalar ? nullptr : exp_ops_avx2(); }
}  // namespace

void softmax(float* x, int64_t n) {
  if (const ExpOps* ops = simd_exp_ops()) return ops->softmax(x, n);
  softmax_reference(x, n);
}

void swiglu(float* gate, const float* up, int64_t n) {
  if (const ExpOps* ops = simd_exp_ops()) return ops->swiglu(gate, up, n);
  swiglu_reference(gate, up, n);
}

double log_sum_exp(const float* x, int64_t n) {
  if (const ExpOps* ops = simd_exp_ops()) return ops->log_sum_exp(x, n);
  return log_sum_exp_reference(x, n);
}

void add_into(float* out, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] += x[i];
}

void layernorm(float* out, const float* x, const float* weight, const float* bias, int64_t n, float eps) {
  float mean = 0.0f;
  for (int64_t i = 0; i < n; ++i) mean += x[i];
  mean /= float(n);
  float var = 0.0f;
  for (int64_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  const float scale = 1.0f / std::sqrt(var / float(n) + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = (x[i] - mean) * scale * weight[i] + (bias ? bias[i] : 0.0f);
}

void gelu_tanh(float* x, int64_t n) {
  const float k = 0.7978845608028654f;  // sqrt(2 / pi)
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    x[i] = 0.5f * v * (1.0f + std::tanh(k * (v + 0.044715f * v * v * v)));
  }
}

void gelu_erf(float* x, int64_t n) {
  const float k = 0.7071067811865476f;  // 1 / sqrt(2)
  for (int64_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * k));
}

void relu(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void relu6(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = std::min(std::max(x[i], 0.0f), 6.0f);
}

void sinusoidal_position(float* out, int32_t pos, int32_t dim) {
  for (int32_t i = 0; 2 * i < dim; ++i) {
    const double angle = double(pos) * std::exp(-double(2 * i) * std::log(10000.0) / double(dim));
    out[2 * i] = float(std::sin(angle));
    if (2 * i + 1 < dim) out[2 * i + 1] = float(std::cos(angle));
  }
}

void add_bias(float* x, const float* bias, int64_t rows, int64_t n) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < n; ++i) x[r * n + i] += bias[i];
}

void alibi_slopes(float* slopes, int32_t n_heads) {
  int32_t p = 1;
  while (p * 2 <= n_heads) p *= 2;
  for (int32_t h = 0; h < n_heads; ++h) {
    const double e = h < p ? -8.0 * (h + 1) / p : -4.0 * (2 * (h - p) + 1) / p;
    slopes[h] = float(std::pow(2.0, e));
  }
}

}  // namespace lumen
