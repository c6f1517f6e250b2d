#pragma once
// Causal scaled dot-product attention over cached positions (seed 000: softmax(q k^T / sqrt(d)) v),
// reading keys and values through a block table (runtime/kv_cache.h) in their stored element
// type (F32, F16 or Q8_0).
//
// The unit of work is a group of queries that read the same KV head: the query heads sharing
// it (GQA; one head for MHA), for one or several tokens of a sequence. Each query keeps its
// own range of positions and its own ALiBi slope; what the group shares is that every cached
// row is read and widened to float once for all of its queries.
#include <cstddef>
#include <cstdint>
#include <span>

#include "tensor/dtype.h"

namespace lumen {

struct KvView {
  const uint8_t* base;   // this layer's storage, at this KV head's first element
  DType type;
  int64_t row_bytes;     // bytes between consecutive positions (one kv_dim row)
};

// One KV head's cached keys and values: position p is in blocks[p / block_size].
struct KvHead {
  KvView keys, values;
  const int32_t* blocks;
  int32_t block_size;
  int32_t head_dim;

  const uint8_t* row(const KvView& kv, int32_t p) const {
    return kv.base + (int64_t(blocks[p / block_size]) * block_size + p % block_size) * kv.row_bytes;
  }
};

// One query head of one token: it attends to positions first_position..n_positions-1, the last
// being its own.
struct AttentionQuery {
  const float* query;          // head_dim values
  float* out;                  // head_dim values
  int32_t n_positions;
  int32_t first_position = 0;  // sliding window: positions before this one are not attended
  float alibi_slope = 0.0f;    // ALiBi: score += slope * (key position - query position)
};

// Floats of scratch that attend() needs for up to n_queries queries of up to max_positions
// positions each.
size_t attention_scratch_floats(int32_t n_queries, int32_t max_positions, int32_t head_dim);

// Every query's out = its attention over kv, with the grouped kernel (attend_avx2) on the SIMD
// paths, whatever the group's size: a query's result does not depend on the group it came in.
// The kernel's work grows with the span from the earliest first_position to the latest
// n_positions of the group, so a group should hold queries of neighbouring tokens.
void attend(const KvHead& kv, std::span<const AttentionQuery> queries, float* scratch);

// One query's out with the one-query kernel (attend_one_avx2 on the SIMD paths), which reads
// rows straight from the cache: faster for a lone query, but rounded differently from attend(),
// so a caller must pick one of the two for a query by what it is, never by what it is batched
// with (the decoder: a generated token of an MHA model).
void attend_one(const KvHead& kv, const AttentionQuery& q, float* scratch);

// The scalar reference twin, the definition, for one query (scratch: n_positions floats).
void attend_reference(const KvHead& kv, const AttentionQuery& q, float* scratch);

// The AVX2 path (only where the CPU has AVX2; the same arithmetic as the reference up to
// rounding): attend_avx2 (attention_avx2.cpp) widens each chunk of cached rows to float once for
// the whole group; a group of one query has nothing to share, and attend_one_avx2
// (attention_one_avx2.cpp) reads its rows straight from the cache instead (scratch: n_positions
// floats), which keeps up with rows streaming from memory.
void attend_avx2(const KvHead& kv, std::span<const AttentionQuery> queries, float* scratch);
void attend_one_avx2(const KvHead& kv, const AttentionQuery& q, float* scratch);

}  // namespace lumen
