#pragma once
// Rotary position embedding (RoPE). Pair i of a head rotates by angle pos * base^(-2i/d).
// The cos/sin table is computed once per model in double precision, so the per-token work is a
// multiply-add and every position gets the same angles however the batch is split.
#include <cstdint>
#include <vector>

#include "models/config.h"

namespace lumen {

class RopeTable {
 public:
  RopeTable(int32_t rotary_dims, int32_t max_positions, float freq_base);
  // Rotates every head of `vec` (n_heads * head_dim values) for position pos.
  void apply(float* vec, int32_t n_heads, int32_t head_dim, int32_t pos, RopeStyle style) const;
  int32_t max_positions() const { return max_positions_; }

 private:
  int32_t rotary_dims_;
  int32_t max_positions_;
  std::vector<float> cos_, sin_;  // [max_positions][rotary_dims / 2]
};

}  // namespace lumen
