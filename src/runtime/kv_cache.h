#pragma once
// The key/value cache of one sequence: for every layer and position, the rotated key and the
// value of each KV head (seed 001: 2 x layers x kv_dim x positions values). Allocated once for
// the whole context so the token loop never allocates.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lumen {

class KvCache {
 public:
  KvCache(int32_t n_layers, int32_t context_length, int32_t kv_dim);

  float* key(int32_t layer, int32_t pos) { return &keys_[index(layer, pos)]; }
  float* value(int32_t layer, int32_t pos) { return &values_[index(layer, pos)]; }
  const float* key(int32_t layer, int32_t pos) const { return &keys_[index(layer, pos)]; }
  const float* value(int32_t layer, int32_t pos) const { return &values_[index(layer, pos)]; }
  int32_t context_length() const { return context_length_; }
  int32_t kv_dim() const { return kv_dim_; }
  size_t bytes() const { return (keys_.size() + values_.size()) * sizeof(float); }

 private:
  size_t index(int32_t layer, int32_t pos) const { return (size_t(layer) * context_length_ + pos) * kv_dim_; }
  int32_t context_length_, kv_dim_;
  std::vector<float> keys_, values_;
};

}  // namespace lumen
