#include "runtime/kv_cache.h"

#include <algorithm>
#include <string>

#include "tensor/quants/quantize.h"
#include "util/error.h"

namespace lumen {
namespace {

void check_type(DType t, int32_t head_dim) {
  if (t != DType::F32 && t != DType::F16 && t != DType::Q8_0)
    fail("KV cache type ", dtype_name(t), " is not supported (f32, f16, q8_0)");
  if (t == DType::Q8_0 && head_dim % 32 != 0)
    fail("KV cache type q8_0 needs a head dimension that is a multiple of 32; this model's is ", head_dim);
}

}  // namespace

DType parse_cache_type(const std::string& name) {
  if (name == "f32") return DType::F32;
  if (name == "f16") return DType::F16;
  if (name == "q8_0") return DType::Q8_0;
  fail("unknown KV cache type '", name, "' (valid: f32, f16, q8_0)");
}

KvStore::KvStore(int32_t n_layers, int32_t n_blocks, int32_t block_size, int32_t n_kv_heads, int32_t head_dim,
                 KvCacheTypes types)
    : n_layers_(n_layers),
      n_blocks_(n_blocks),
      block_size_(block_size),
      kv_dim_(n_kv_heads * head_dim),
      types_(types),
      key_row_(0),
      value_row_(0) {
  if (n_layers < 1 || n_blocks < 1 || block_size < 1) fail("KV cache needs at least one block of one position");
  check_type(types.keys, head_dim);
  check_type(types.values, head_dim);
  key_row_ = row_bytes(types.keys, kv_dim_);
  value_row_ = row_bytes(types.values, kv_dim_);
  const size_t rows = size_t(n_layers) * n_blocks * block_size;
  keys_.resize(rows * key_row_);
  values_.resize(rows * value_row_);
}

void KvStore::store_key(int32_t layer, int32_t block, int32_t slot, const float* row) {
  quantize_row(types_.keys, row, &keys_[index(layer, block, slot, key_row_)], kv_dim_);
}

void KvStore::store_value(int32_t layer, int32_t block, int32_t slot, const float* row) {
  quantize_row(types_.values, row, &values_[index(layer, block, slot, value_row_)], kv_dim_);
}

void KvStore::copy_slots(int32_t from, int32_t to, int32_t slots) {
  if (from < 0 || from >= n_blocks_ || to < 0 || to >= n_blocks_ || slots < 0 || slots > block_size_)
    fail("KV copy of ", slots, " slots from block ", from, " to block ", to, " is out of range");
  for (int32_t l = 0; l < n_layers_; ++l) {  // a block's slots are consecutive rows in each layer
    std::copy_n(&keys_[index(l, from, 0, key_row_)], slots * key_row_, &keys_[index(l, to, 0, key_row_)]);
    std::copy_n(&values_[index(l, from, 0, value_row_)], slots * value_row_, &values_[index(l, to, 0, value_row_)]);
  }
}

}  // namespace lumen
