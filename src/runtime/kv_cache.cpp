#include "runtime/kv_cache.h"

#include "util/error.h"

namespace lumen {

KvStore::KvStore(int32_t n_layers, int32_t n_blocks, int32_t block_size, int32_t kv_dim)
    : n_blocks_(n_blocks), block_size_(block_size), kv_dim_(kv_dim) {
  if (n_blocks < 1 || block_size < 1) fail("KV cache needs at least one block of one position");
  const size_t floats = size_t(n_layers) * n_blocks * block_size * kv_dim;
  keys_.resize(floats);
  values_.resize(floats);
}

}  // namespace lumen
