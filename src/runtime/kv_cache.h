#pragma once
// Key/value storage in fixed-size blocks (vLLM's paged KV cache, seed 001's "paged KV cache").
// A sequence owns a block table: position p lives in block table[p / block_size], slot
// p % block_size. Blocks need not be contiguous, so many sequences share one pool of memory
// and a block can be shared by every sequence whose prompt starts with the same tokens.
//
// Layout: [layer][block][slot][kv_dim] floats for keys, the same for values. Allocated once;
// the token loop never allocates.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace lumen {

class KvStore {
 public:
  KvStore(int32_t n_layers, int32_t n_blocks, int32_t block_size, int32_t kv_dim);

  float* key(int32_t layer, int32_t block, int32_t slot) { return &keys_[index(layer, block, slot)]; }
  float* value(int32_t layer, int32_t block, int32_t slot) { return &values_[index(layer, block, slot)]; }
  const float* keys(int32_t layer) const { return &keys_[index(layer, 0, 0)]; }
  const float* values(int32_t layer) const { return &values_[index(layer, 0, 0)]; }

  int32_t n_blocks() const { return n_blocks_; }
  int32_t block_size() const { return block_size_; }
  int32_t kv_dim() const { return kv_dim_; }
  int64_t block_stride() const { return int64_t(block_size_) * kv_dim_; }  // floats per block
  size_t bytes() const { return (keys_.size() + values_.size()) * sizeof(float); }

 private:
  size_t index(int32_t layer, int32_t block, int32_t slot) const {
    return ((size_t(layer) * n_blocks_ + block) * block_size_ + slot) * kv_dim_;
  }
  int32_t n_blocks_, block_size_, kv_dim_;
  std::vector<float> keys_, values_;
};

// Blocks needed to hold n positions.
inline int32_t blocks_for(int64_t positions, int32_t block_size) {
  return int32_t((positions + block_size - 1) / block_size);
}

}  // namespace lumen
