// The attention of a group of queries over one KV head (attention.h) with AVX2 + FMA + F16C: the
// SIMD path of both the avx2 and the avx512 ISAs. Compiled for that target whatever the build
// flags, and used only where the CPU has it.
//
// Cached positions go by chunks of kChunk, each read and widened to float once for the whole
// group, where a kernel per query re-reads and re-widens every row for every query:
//  1. scores: a chunk of keys is widened transposed (head_dim x chunk), so that a query's scores
//     for 8 positions are one FMA per query element, the element broadcast, with no horizontal
//     sum; blocks of up to four queries share every key load.
//  2. each query's softmax over its own positions; the other positions of the group's span get
//     probability 0, so that from here on all queries walk the same positions.
//  3. values: a chunk of values is widened once and accumulated into blocks of up to four
//     queries' outputs, held in registers across the chunk.
// Every score sums its products in head_dim order and every output its terms in position order,
// as the reference does: the results differ from it only by the rounding of fused multiply-adds
// and by the SIMD softmax (ops.h).
#include <algorithm>
#include <climits>
#include <cmath>

#include "kernels/attention.h"
#include "kernels/ops.h"
#include "util/error.h"

namespace lumen {
namespace {

constexpr int32_t kChunk = 64;  // positions widened at a time: at head_dim 64, 16 KiB of floats (L1)

int32_t round_up(int32_t n, int32_t m) { return (n + m - 1) / m * m; }

// attend_avx2's scratch: a row of zeros and a widened chunk of rows, then per query an output
// accumulator (head_dim rounded up to whole 8-lane registers) and its scores over the group's
// span (rounded up to whole chunks).
struct ScratchLayout {
  int32_t padded_dim, score_stride;
  ScratchLayout(int32_t head_dim, int32_t span) : padded_dim(round_up(head_dim, 8)), score_stride(round_up(span, kChunk)) {}
  size_t chunk_floats() const { return size_t(kChunk) * size_t(padded_dim); }
  size_t floats(int32_t n_queries) const {
    return size_t(padded_dim) + chunk_floats() + size_t(n_queries) * size_t(padded_dim + score_stride);
  }
};

}  // namespace

// Also covers the scalar path's need, one score per position.
size_t attention_scratch_floats(int32_t n_queries, int32_t max_positions, int32_t head_dim) {
  return ScratchLayout(head_dim, max_positions).floats(std::max(n_queries, 1));
}

}  // namespace lumen

#if defined(__x86_64__)
#include "kernels/target_avx2_begin.h"

#include "kernels/kv_load_avx2.h"

namespace lumen {
namespace {

using kv_load::load8;
using kv_load::value_at;

// The 8 x 8 floats r[0..8) transposed in place: r[e] becomes lane e of every input register.
inline void transpose8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
    r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
  }
}

// rows[j] = the address of row c0 + j of `view` for j < n, with one division per block of the
// table rather than one per row.
void row_addresses(const KvHead& kv, const KvView& view, int32_t c0, int32_t n, const uint8_t** rows) {
  for (int32_t j = 0; j < n;) {
    const uint8_t* row = kv.row(view, c0 + j);
    const int32_t end = std::min(n, j + kv.block_size - (c0 + j) % kv.block_size);  // the rest of the block
    for (; j < end; ++j, row += view.row_bytes) rows[j] = row;
  }
}

// Where the rows of the chunk at c0 are (past the span's end hi, `zero`: zero bytes are 0.0 in
// every type), and the next chunk's rows requested from memory, so that fetching them overlaps
// the work on this one: 1.1-1.25x faster on rows streaming from DRAM, ~7% slower on rows in L2.
void chunk_rows(const KvHead& kv, const KvView& view, int32_t c0, int32_t hi, const uint8_t* zero,
                const uint8_t** rows) {
  const int32_t n = std::min(kChunk, hi - c0), next = std::min(kChunk, hi - c0 - n);
  row_addresses(kv, view, c0, n, rows);
  std::fill(rows + n, rows + kChunk, zero);
  const uint8_t* next_rows[kChunk];
  row_addresses(kv, view, c0 + n, next, next_rows);
  const int64_t bytes = int64_t(row_bytes(view.type, kv.head_dim));
  for (int32_t j = 0; j < next; ++j)
    for (int64_t b = 0; b < bytes; b += 64)  // one request per 64-byte cache line
      _mm_prefetch(reinterpret_cast<const char*>(next_rows[j]) + b, _MM_HINT_T1);
}

// A chunk of keys widened and transposed: keys[d * kChunk + j] is element d of row j.
template <DType T>
void widen_keys_as(const uint8_t* const* rows, int32_t head_dim, float* keys) {
  const int32_t vector_dim = head_dim / 8 * 8;
  for (int32_t j = 0; j < kChunk; j += 8) {
    for (int32_t d = 0; d < vector_dim; d += 8) {
      __m256 t[8];
      for (int r = 0; r < 8; ++r) t[r] = load8(rows[j + r], T, d);
      transpose8(t);
      for (int e = 0; e < 8; ++e) _mm256_storeu_ps(keys + (d + e) * kChunk + j, t[e]);
    }
    for (int32_t d = vector_dim; d < head_dim; ++d)
      for (int r = 0; r < 8; ++r) keys[d * kChunk + j + r] = value_at(rows[j + r], T, d);
  }
}

// The chunk's first n rows of values widened: values[j * padded_dim + d], the padding zero.
template <DType T>
void widen_values_as(const uint8_t* const* rows, int32_t n, int32_t head_dim, int32_t padded_dim, float* values) {
  const int32_t vector_dim = head_dim / 8 * 8;
  for (int32_t j = 0; j < n; ++j) {
    float* out = values + size_t(j) * padded_dim;
    for (int32_t d = 0; d < vector_dim; d += 8) _mm256_storeu_ps(out + d, load8(rows[j], T, d));
    for (int32_t d = vector_dim; d < padded_dim; ++d) out[d] = d < head_dim ? value_at(rows[j], T, d) : 0.0f;
  }
}

// The storage type is fixed for the whole cache: one dispatch per chunk, none in the loops.
void widen_keys(DType type, const uint8_t* const* rows, int32_t head_dim, float* keys) {
  switch (type) {
    case DType::F32: return widen_keys_as<DType::F32>(rows, head_dim, keys);
    case DType::F16: return widen_keys_as<DType::F16>(rows, head_dim, keys);
    default: return widen_keys_as<DType::Q8_0>(rows, head_dim, keys);
  }
}

void widen_values(DType type, const uint8_t* const* rows, int32_t n, int32_t head_dim, int32_t padded_dim,
                  float* values) {
  switch (type) {
    case DType::F32: return widen_values_as<DType::F32>(rows, n, head_dim, padded_dim, values);
    case DType::F16: return widen_values_as<DType::F16>(rows, n, head_dim, padded_dim, values);
    default: return widen_values_as<DType::Q8_0>(rows, n, head_dim, padded_dim, values);
  }
}

// GCC folds a load into every FMA that uses it, so a key or value vector shared by several
// queries would be read once per query; held in a register, it is read once (1.6x faster here).
inline __m256 in_register(__m256 v) {
  asm("" : "+x"(v));
  return v;
}

// Registers of 8 accumulators per query in the loops below, Q x W = 6 or 8 independent FMA
// chains in all (enough to hide the FMA latency) with room left for the W shared vectors.
template <int Q>
constexpr int kVectors = Q == 1 ? 8 : Q == 2 ? 4 : 2;

// scores[q][j] = query[q] . key j / norm for the chunk's positions j < n, 8W at a time.
template <int Q>
void chunk_scores(const float* const* query, const float* keys, int32_t head_dim, int32_t n, float norm,
                  float* const* scores) {
  constexpr int W = kVectors<Q>;
  const __m256 norm8 = _mm256_set1_ps(norm);
  for (int32_t j = 0; j < n; j += 8 * W) {
    __m256 acc[Q][W];
    for (int q = 0; q < Q; ++q)
      for (int w = 0; w < W; ++w) acc[q][w] = _mm256_setzero_ps();
    for (int32_t d = 0; d < head_dim; ++d) {
      __m256 k[W];
      for (int w = 0; w < W; ++w) {
        k[w] = _mm256_loadu_ps(keys + d * kChunk + j + 8 * w);
        if constexpr (Q > 1) k[w] = in_register(k[w]);
      }
      for (int q = 0; q < Q; ++q) {
        const __m256 e = _mm256_broadcast_ss(query[q] + d);
        for (int w = 0; w < W; ++w) acc[q][w] = _mm256_fmadd_ps(e, k[w], acc[q][w]);
      }
    }
    for (int q = 0; q < Q; ++q)
      for (int w = 0; w < W; ++w) _mm256_storeu_ps(scores[q] + j + 8 * w, _mm256_div_ps(acc[q][w], norm8));
  }
}

// sums[q][col .. col + 8W) += probs[q][j] * values[j][col .. col + 8W) over the chunk's positions
// j < n, the accumulators held in registers across the chunk.
template <int Q, int W>
void chunk_values(const float* const* probs, const float* values, int32_t padded_dim, int32_t n, int32_t col,
                  float* const* sums) {
  __m256 acc[Q][W];
  for (int q = 0; q < Q; ++q)
    for (int w = 0; w < W; ++w) acc[q][w] = _mm256_loadu_ps(sums[q] + col + 8 * w);
  for (int32_t j = 0; j < n; ++j) {
    __m256 v[W];
    for (int w = 0; w < W; ++w) {
      v[w] = _mm256_loadu_ps(values + size_t(j) * padded_dim + col + 8 * w);
      if constexpr (Q > 1) v[w] = in_register(v[w]);
    }
    for (int q = 0; q < Q; ++q) {
      const __m256 p = _mm256_broadcast_ss(probs[q] + j);
      for (int w = 0; w < W; ++w) acc[q][w] = _mm256_fmadd_ps(p, v[w], acc[q][w]);
    }
  }
  for (int q = 0; q < Q; ++q)
    for (int w = 0; w < W; ++w) _mm256_storeu_ps(sums[q] + col + 8 * w, acc[q][w]);
}

// fn.operator()<Q>(q0) for the queries in blocks q0 .. q0 + Q - 1 of four, the last block what
// is left.
template <typename Fn>
void by_query_blocks(int32_t n_queries, Fn&& fn) {
  for (int32_t q0 = 0; q0 < n_queries; q0 += 4) {
    switch (std::min(4, n_queries - q0)) {
      case 4: fn.template operator()<4>(q0); break;
      case 3: fn.template operator()<3>(q0); break;
      case 2: fn.template operator()<2>(q0); break;
      default: fn.template operator()<1>(q0); break;
    }
  }
}

// A query's scores over the group's span [lo, hi) become its probabilities: the reference's ALiBi
// and softmax over its own positions, 0 at the others.
void probabilities(const AttentionQuery& q, int32_t lo, int32_t hi, float* s) {
  const int32_t begin = q.first_position - lo, end = q.n_positions - lo;
  if (q.alibi_slope != 0.0f)
    for (int32_t p = begin; p < end; ++p) s[p] += q.alibi_slope * float(p + lo - (q.n_positions - 1));
  softmax(s + begin, end - begin);
  std::fill(s, s + begin, 0.0f);
  std::fill(s + end, s + (hi - lo), 0.0f);
}

}  // namespace

void attend_avx2(const KvHead& kv, std::span<const AttentionQuery> queries, float* scratch) {
  if (queries.empty()) return;
  const int32_t n_queries = int32_t(queries.size()), dim = kv.head_dim;
  int32_t lo = INT32_MAX, hi = 0;  // the group's span: every position some query attends to
  for (const AttentionQuery& q : queries) {
    lo = std::min(lo, q.first_position);
    hi = std::max(hi, q.n_positions);
  }
  const ScratchLayout layout(dim, hi - lo);
  const uint8_t* rows[kChunk];
  const auto* zero_row = reinterpret_cast<const uint8_t*>(scratch);
  std::fill_n(scratch, layout.padded_dim, 0.0f);
  float* chunk = scratch + layout.padded_dim;
  float* sums = chunk + layout.chunk_floats();
  float* scores = sums + size_t(n_queries) * layout.padded_dim;
  const auto sum_row = [&](int32_t q) { return sums + size_t(q) * layout.padded_dim; };
  const auto score_row = [&](int32_t q) { return scores + size_t(q) * layout.score_stride; };
  const float norm = std::sqrt(float(dim));

  for (int32_t c0 = lo; c0 < hi; c0 += kChunk) {
    const int32_t n = std::min(kChunk, hi - c0);
    chunk_rows(kv, kv.keys, c0, hi, zero_row, rows);
    widen_keys(kv.keys.type, rows, dim, chunk);
    by_query_blocks(n_queries, [&]<int Q>(int32_t q0) {
      const float* query[Q];
      float* out[Q];
      for (int q = 0; q < Q; ++q) {
        query[q] = queries[q0 + q].query;
        out[q] = score_row(q0 + q) + (c0 - lo);
      }
      chunk_scores<Q>(query, chunk, dim, n, norm, out);
    });
  }

  for (int32_t q = 0; q < n_queries; ++q) probabilities(queries[q], lo, hi, score_row(q));

  std::fill_n(sums, size_t(n_queries) * layout.padded_dim, 0.0f);
  for (int32_t c0 = lo; c0 < hi; c0 += kChunk) {
    const int32_t n = std::min(kChunk, hi - c0);
    chunk_rows(kv, kv.values, c0, hi, zero_row, rows);
    widen_values(kv.values.type, rows, n, dim, layout.padded_dim, chunk);
    by_query_blocks(n_queries, [&]<int Q>(int32_t q0) {
      const float* probs[Q];
      float* out[Q];
      for (int q = 0; q < Q; ++q) {
        probs[q] = score_row(q0 + q) + (c0 - lo);
        out[q] = sum_row(q0 + q);
      }
      constexpr int W = kVectors<Q>;
      int32_t col = 0;
      for (; col + 8 * W <= layout.padded_dim; col += 8 * W) chunk_values<Q, W>(probs, chunk, layout.padded_dim, n, col, out);
      for (; col < layout.padded_dim; col += 8) chunk_values<Q, 1>(probs, chunk, layout.padded_dim, n, col, out);
    });
  }
  for (int32_t q = 0; q < n_queries; ++q) std::copy_n(sum_row(q), dim, queries[q].out);
}

}  // namespace lumen

#include "kernels/target_end.h"

#else  // not x86-64: no CPU reports AVX2, so attend() never comes here

namespace lumen {
void attend_avx2(const KvHead&, std::span<const AttentionQuery>, float*) { fail("AVX2 attention in a non-x86 build"); }
}  // namespace lumen

#endif
