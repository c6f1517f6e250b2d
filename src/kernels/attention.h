#pragma once
// Causal scaled dot-product attention of one query head over the cached positions
// 0..n_positions-1 (seed 000: softmax(q k^T / sqrt(d)) v).
#include <cstdint>

namespace lumen {

struct AttentionHead {
  const float* query;     // head_dim values
  const float* keys;      // position p's key at keys + p * stride
  const float* values;    // position p's value at values + p * stride
  int64_t stride;         // floats between consecutive positions (the cache's kv_dim)
  int32_t head_dim;
  int32_t n_positions;
};

// out[head_dim] = attention of one head; scratch holds n_positions floats.
void attend(const AttentionHead& head, float* scratch, float* out);

}  // namespace lumen
