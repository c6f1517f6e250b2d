#include "kernels/rope.h"

#include <cmath>

#include "util/error.h"

namespace lumen {

RopeTable::RopeTable(int32_t rotary_dims, int32_t max_positions, float freq_base)
    : rotary_dims_(rotary_dims), max_positions_(max_positions) {
  const int32_t half = rotary_dims / 2;
  cos_.resize(size_t(max_positions) * half);
  sin_.resize(size_t(max_positions) * half);
  for (int32_t pos = 0; pos < max_positions; ++pos) {
    for (int32_t i = 0; i < half; ++i) {
      const double freq = std::pow(double(freq_base), -2.0 * i / rotary_dims);
      const double angle = pos * freq;
      cos_[size_t(pos) * half + i] = float(std::cos(angle));
      sin_[size_t(pos) * half + i] = float(std::sin(angle));
    }
  }
}

void RopeTable::apply(float* vec, int32_t n_heads, int32_t head_dim, int32_t pos, RopeStyle style) const {
  if (pos < 0 || pos >= max_positions_) fail("position ", pos, " is outside the RoPE table (", max_positions_, ")");
  const int32_t half = rotary_dims_ / 2;
  const float* c = &cos_[size_t(pos) * half];
  const float* s = &sin_[size_t(pos) * half];
  for (int32_t h = 0; h < n_heads; ++h) {
    float* v = vec + size_t(h) * head_dim;
    for (int32_t i = 0; i < half; ++i) {
      // Adjacent pairs (2i, 2i+1) as llama2.c/GGUF store Q and K; NeoX pairs (i, i + d/2).
      const int32_t a = style == RopeStyle::Adjacent ? 2 * i : i;
      const int32_t b = style == RopeStyle::Adjacent ? 2 * i + 1 : i + half;
      const float x0 = v[a], x1 = v[b];
      v[a] = x0 * c[i] - x1 * s[i];
      v[b] = x0 * s[i] + x1 * c[i];
    }
  }
}

}  // namespace lumen
