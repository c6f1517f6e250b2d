#include "runtime/kv_cache.h"

namespace lumen {

KvCache::KvCache(int32_t n_layers, int32_t context_length, int32_t kv_dim)
    : context_length_(context_length),
      kv_dim_(kv_dim),
      keys_(size_t(n_layers) * context_length * kv_dim),
      values_(size_t(n_layers) * context_length * kv_dim) {}

}  // namespace lumen
