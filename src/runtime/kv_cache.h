#pragma once
// Key/value storage in fixed-size blocks (vLLM's paged KV cache, seed 001's "paged KV cache").
// A sequence owns a block table: position p lives in block table[p / block_size], slot
// p % block_size. Blocks need not be contiguous, so many sequences share one pool of memory
// and a block can be shared by every sequence whose prompt starts with the same tokens.
//
// Layout: [layer][block][slot] rows of kv_dim values for keys, the same for values, each in
// its own element type (F32, F16 or Q8_0 blocks; llama.cpp's --cache-type-k/-v). Allocated once; the token
// loop never allocates.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/dtype.h"

namespace lumen {

struct KvCacheTypes {
  DType keys = DType::F16;
  DType values = DType::F16;
};

// Parses llama.cpp's cache type names ("f32", "f16", "q8_0"); fails naming the valid ones.
DType parse_cache_type(const std::string& name);

class KvStore {
 public:
  // Q8_0 blocks (32 values) must not straddle heads: it needs head_dim to be a multiple of 32.
  KvStore(int32_t n_layers, int32_t n_blocks, int32_t block_size, int32_t n_kv_heads, int32_t head_dim,
          KvCacheTypes types = {});

  // Stores one position's keys or values (kv_dim floats), converting to the storage type.
  void store_key(int32_t layer, int32_t block, int32_t slot, const float* row);
  void store_value(int32_t layer, int32_t block, int32_t slot, const float* row);
  // Copies slots 0 .. slots-1 of block `from` to block `to` in every layer, keys and values: a
  // sequence that continues another one (a beam) takes a private copy of their shared, partly
  // filled last block before writing its next position there (copy-on-write).
  void copy_slots(int32_t from, int32_t to, int32_t slots);
  const uint8_t* keys(int32_t layer) const { return &keys_[index(layer, 0, 0, key_row_)]; }
  const uint8_t* values(int32_t layer) const { return &values_[index(layer, 0, 0, value_row_)]; }

  KvCacheTypes types() const { return types_; }
  int32_t n_blocks() const { return n_blocks_; }
  int32_t block_size() const { return block_size_; }
  int32_t kv_dim() const { return kv_dim_; }
  size_t key_row_bytes() const { return key_row_; }
  size_t value_row_bytes() const { return value_row_; }
  size_t bytes() const { return keys_.size() + values_.size(); }

 private:
  size_t index(int32_t layer, int32_t block, int32_t slot, size_t row) const {
    return ((size_t(layer) * n_blocks_ + block) * block_size_ + slot) * row;
  }
  int32_t n_layers_, n_blocks_, block_size_, kv_dim_;
  KvCacheTypes types_;
  size_t key_row_, value_row_;
  std::vector<uint8_t> keys_, values_;
};

// Blocks needed to hold n positions.
inline int32_t blocks_for(int64_t positions, int32_t block_size) {
  return int32_t((positions + block_size - 1) / block_size);
}

}  // namespace lumen
