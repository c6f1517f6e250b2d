#pragma once
// Causal scaled dot-product attention of one query head over the cached positions
// 0..n_positions-1 (seed 000: softmax(q k^T / sqrt(d)) v), reading keys and values through a
// block table (runtime/kv_cache.h).
#include <cstdint>

namespace lumen {

struct AttentionHead {
  const float* query;      // head_dim values
  const float* keys;       // this layer's key storage, offset to this KV head
  const float* values;     // this layer's value storage, offset to this KV head
  const int32_t* blocks;   // block table: position p is in blocks[p / block_size]
  int32_t block_size;
  int64_t block_stride;    // floats between consecutive blocks
  int64_t slot_stride;     // floats between consecutive positions of a block (the kv_dim)
  int32_t head_dim;
  int32_t n_positions;

  int64_t offset(int32_t p) const { return blocks[p / block_size] * block_stride + (p % block_size) * slot_stride; }
};

// out[head_dim] = attention of one head; scratch holds n_positions floats.
void attend(const AttentionHead& head, float* scratch, float* out);

}  // namespace lumen
