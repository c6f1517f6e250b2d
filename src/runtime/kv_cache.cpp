#include "runtime/kv_cache.h"

#include <cstring>
#include <string>

#include "util/error.h"

namespace lumen {
namespace {

void check_type(DType t) {
  if (t != DType::F32 && t != DType::F16) fail("KV cache type ", dtype_name(t), " is not supported (f32, f16)");
}

void convert_row(DType type, const float* row, int32_t n, uint8_t* dst) {
  if (type == DType::F32) {
    std::memcpy(dst, row, size_t(n) * sizeof(float));
    return;
  }
  auto* out = reinterpret_cast<uint16_t*>(dst);
  for (int32_t i = 0; i < n; ++i) out[i] = f32_to_f16(row[i]);
}

}  // namespace

DType parse_cache_type(const std::string& name) {
  if (name == "f32") return DType::F32;
  if (name == "f16") return DType::F16;
  fail("unknown KV cache type '", name, "' (valid: f32, f16)");
}

KvStore::KvStore(int32_t n_layers, int32_t n_blocks, int32_t block_size, int32_t kv_dim, KvCacheTypes types)
    : n_blocks_(n_blocks),
      block_size_(block_size),
      kv_dim_(kv_dim),
      types_(types),
      key_row_(row_bytes(types.keys, kv_dim)),
      value_row_(row_bytes(types.values, kv_dim)) {
  if (n_blocks < 1 || block_size < 1) fail("KV cache needs at least one block of one position");
  check_type(types.keys);
  check_type(types.values);
  const size_t rows = size_t(n_layers) * n_blocks * block_size;
  keys_.resize(rows * key_row_);
  values_.resize(rows * value_row_);
}

void KvStore::store_key(int32_t layer, int32_t block, int32_t slot, const float* row) {
  convert_row(types_.keys, row, kv_dim_, &keys_[index(layer, block, slot, key_row_)]);
}

void KvStore::store_value(int32_t layer, int32_t block, int32_t slot, const float* row) {
  convert_row(types_.values, row, kv_dim_, &values_[index(layer, block, slot, value_row_)]);
}

}  // namespace lumen
