#pragma once
// Causal scaled dot-product attention of one query head over the cached positions
// 0..n_positions-1 (seed 000: softmax(q k^T / sqrt(d)) v), reading keys and values through a
// block table (runtime/kv_cache.h) in their stored element type (F32, F16 or Q8_0).
#include <cstdint>

#include "tensor/dtype.h"

namespace lumen {

struct KvView {
  const uint8_t* base;   // this layer's storage, at this KV head's first element
  DType type;
  int64_t row_bytes;     // bytes between consecutive positions (one kv_dim row)
};

struct AttentionHead {
  const float* query;      // head_dim values
  KvView keys, values;
  const int32_t* blocks;   // block table: position p is in blocks[p / block_size]
  int32_t block_size;
  int32_t head_dim;
  int32_t n_positions;
  int32_t first_position = 0;  // sliding window: positions before this one are not attended
  float alibi_slope = 0.0f;    // ALiBi: score += slope * (key position - query position)

  const uint8_t* row(const KvView& kv, int32_t p) const {
    return kv.base + (int64_t(blocks[p / block_size]) * block_size + p % block_size) * kv.row_bytes;
  }
};

// out[head_dim] = attention of one head over positions first_position..n_positions-1, the last
// being the query's own; scratch holds n_positions floats. The path follows the kernel ISA.
void attend(const AttentionHead& head, float* scratch, float* out);

// The scalar reference twin (the scalar path), and the AVX2 path (kv_rows_avx2.cpp: the same
// arithmetic up to summation order).
void attend_reference(const AttentionHead& head, float* scratch, float* out);
void attend_avx2(const AttentionHead& head, float* scratch, float* out);

}  // namespace lumen
