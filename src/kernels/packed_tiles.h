#pragma once
// The packed kernels (packed_kernel.h) on SIMD registers of 16 lanes, one lane per row of a
// 16-row group. An ISA file includes this under its own `target` pragma and instantiates
// select<V>() with a V that supplies 16-lane integer (I) and float (F) registers and:
//   load(p)            64 bytes
//   low(v), high(v)    the low / high nibble of each byte
//   splat(i)           16 lanes of i
//   dot(acc, u8, x4)   acc + per lane the sum of its 4 unsigned bytes times the 4 signed bytes
//                      of x4 (AVX-512 VNNI: one vpdpbusd; AVX2: vpmaddubsw + vpmaddwd per half)
//   dot_flipped(acc, f, x4)  the same for bytes stored sign-flipped (Q8_0), as signed bytes,
//                      where vpmaddubsw's 16-bit pairs could otherwise saturate
//   kUnsignedQ8        whether dot() on the flipped bytes is exact (VNNI), so Q8_0 can use it
//                      and start from the -128 * sum offset instead
//   scales(p)          16 f16 scales widened; zero(), mul(F, float), fma_int(isum, scale, acc)
//                      = fma(float(isum), scale, acc), fnma_int = fma(-float(isum), scale, acc),
//                      store(y, F)
//   bytes_to_i32(p)    16 unsigned bytes widened to 32 bits; add(I, I), mullo(I, I)
//   dot_pairs(acc, p, pair)  acc + per lane i the 16-bit products of unsigned bytes p[2i],
//                      p[2i + 1] with the signed 16-bit halves of pair (vpdpwssd)
//   sbytes_to_i32(p)   16 signed bytes widened; or_(I, I); top_bits<M>(v) per byte
//                      ((v >> 2M) & 3) << 4 (Q6_K's top 2 bits moved above the nibble)
//
// A tile is G groups x N tokens: each group block's weights are loaded and unpacked once and
// used for N tokens (prefill); decode takes G groups from G places of the thread's rows at once
// so that each thread keeps several memory streams in flight. Every output is accumulated by
// the same operations in the same order in every tile shape and equals the scalar twin's.
//
// Everything here is in an anonymous namespace, deliberately for a header: each ISA file gets
// its own copy compiled for its own target (see qgemm_tiles.h).
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels/packed_kernel.h"
#include "kernels/packed_layout.h"

// The tile loops are unrolled so that each token's accumulator lives in its own register (GCC
// otherwise kept the token loop rolled with the accumulators in memory: a store and a load per
// token and block).
#define LUMEN_UNROLL _Pragma("GCC unroll 16")

namespace lumen::packed {
namespace {

using quants::BlockQ8_0;
using quants::BlockQ8_K;

constexpr int kTokenBlock = 128;  // tokens whose activations stay in L2 while the groups stream by
// Groups in flight per thread in decode. 2 rather than 4: Q4_K_M tg128 +5 % in the host's high
// memory state (71.1 / 72.2 -> 75.3 / 75.6 t/s side by side), Q4_0 and Q8_0 unchanged; 8 was
// 25 % slower (docs/PERF.md).
constexpr int kDecodeStreams = 2;
// Batches of fewer than V::kTokens tokens (a few sequences decoded together) keep kDecodeStreams
// groups in flight too, up to each type's kPairedTokens: side by side in the host's low memory
// state the batched step of 3-7 sequences gained 6-13 % (Q4_0) and 7-20 % (Q4_K_M, with its Q6_K
// classifier); Q8_0 was unchanged at 4 tokens and ran at half speed at 7 (two groups' tiles of
// Q8_0's eight weight registers outgrow the 32 registers), so it pairs up to 4 tokens only. (The
// AVX2 tiles hold 2 tokens: there only decode pairs.)
constexpr int kPairedTokensMost = 7;

inline int32_t x4(const int8_t* qs, int g) {
  int32_t v;
  std::memcpy(&v, qs + 4 * g, 4);
  return v;
}

// start + the dot products of q[0 .. 8) with the 8 groups of 4 activations, in two chains of 4
// (integer sums: the order changes nothing) to halve the latency.
template <class V>
inline typename V::I two_chains(typename V::I start, const typename V::I* q, const int8_t* x) {
  typename V::I even = start, odd = V::splat(0);
  LUMEN_UNROLL
  for (int k = 0; k < 4; ++k) {
    even = V::dot(even, q[2 * k], x4(x, 2 * k));
    odd = V::dot(odd, q[2 * k + 1], x4(x, 2 * k + 1));
  }
  return V::add(even, odd);
}

// Q4_0 group block: d[16], then 4 chunks whose low nibbles are values 4c .. 4c + 3 of each row
// and high nibbles values 16 + 4c .. 16 + 4c + 3: after unpacking, q[g] holds values 4g .. 4g + 3.
template <class V>
struct Q4 {
  static constexpr size_t kBytes = 2 * kPackRows + 16 * kPackRows;
  static constexpr int kPairedTokens = kPairedTokensMost;
  struct Weights {
    typename V::I q[8];
    typename V::F d;
  };
  static Weights unpack(const uint8_t* block) {
    Weights w;
    w.d = V::scales(block);
    LUMEN_UNROLL
    for (int c = 0; c < 4; ++c) {
      const typename V::I v = V::load(block + 2 * kPackRows + 64 * c);
      w.q[c] = V::low(v);
      w.q[c + 4] = V::high(v);
    }
    return w;
  }
  static typename V::I dot(const Weights& w, const BlockQ8_0& x, int32_t offset) {
    return two_chains<V>(V::splat(offset), w.q, x.qs);
  }
};

// Q8_0 group block: d[16], then 8 chunks of values 4g .. 4g + 3 of each row, sign-flipped.
template <class V>
struct Q8 {
  static constexpr size_t kBytes = 2 * kPackRows + 32 * kPackRows;
  static constexpr int kPairedTokens = 4;
  struct Weights {
    typename V::I q[8];
    typename V::F d;
  };
  static Weights unpack(const uint8_t* block) {
    Weights w;
    w.d = V::scales(block);
    LUMEN_UNROLL
    for (int g = 0; g < 8; ++g) w.q[g] = V::load(block + 2 * kPackRows + 64 * g);
    return w;
  }
  static typename V::I dot(const Weights& w, const BlockQ8_0& x, int32_t offset) {
    if constexpr (V::kUnsignedQ8) {
      return two_chains<V>(V::splat(offset), w.q, x.qs);
    } else {  // the same integer, sum_j (u_j - 128) x_j, from the signed quants
      typename V::I acc = V::splat(0);
      LUMEN_UNROLL
      for (int g = 0; g < 8; ++g) acc = V::dot_flipped(acc, w.q[g], x4(x.qs, g));
      return acc;
    }
  }
};

// A tile's G x N float accumulators, zeroed, and stored to their outputs.
template <class V, int G, int N>
inline void zero_tile(typename V::F (&acc)[G][N]) {
  LUMEN_UNROLL
  for (int g = 0; g < G; ++g)
    LUMEN_UNROLL
    for (int t = 0; t < N; ++t) acc[g][t] = V::zero();
}

template <class V, int G, int N>
inline void store_tile(const PackedArgs& a, const int64_t* groups, int t0, const typename V::F (&acc)[G][N]) {
  LUMEN_UNROLL
  for (int g = 0; g < G; ++g)
    LUMEN_UNROLL
    for (int t = 0; t < N; ++t) V::store(a.y + int64_t(t0 + t) * a.rows + groups[g] * kPackRows, acc[g][t]);
}

// Q4_K group block (PackedQ4K): per 32-value sub-block j, 4 chunks of nibbles as Q4_0's and a
// 6-bit scale per row; per super-block the mins as 16-bit pairs. Marks the super-block tile.
template <class V>
struct Q4K {
  static constexpr size_t kBytes = PackedQ4K::bytes;
  static constexpr int kPairedTokens = kPairedTokensMost;
};

// Groups groups[0 .. G) x tokens [t0, t0 + N) of Q4_K weights: each sub-block is unpacked once
// for N tokens; the tokens' integer sums stay in registers across the super-block.
template <class V, int G, int N>
inline void tile_q4k(const PackedArgs& a, const int64_t* groups, int t0) {
  using I = typename V::I;
  typename V::F acc[G][N];
  zero_tile<V, G, N>(acc);
  const auto* xq = static_cast<const BlockQ8_K*>(a.xq);
  for (int64_t b = 0; b < a.blocks; ++b) {
    LUMEN_UNROLL
    for (int g = 0; g < G; ++g) {
      const uint8_t* block = a.w + groups[g] * a.group_stride + b * PackedQ4K::bytes;
      I isum[N];
      LUMEN_UNROLL
      for (int t = 0; t < N; ++t) isum[t] = V::splat(0);
      for (int j = 0; j < 8; ++j) {
        I q[8];
        LUMEN_UNROLL
        for (int c = 0; c < 4; ++c) {
          const I v = V::load(block + PackedQ4K::quants + 256 * j + 64 * c);
          q[c] = V::low(v);
          q[c + 4] = V::high(v);
        }
        const I scale = V::bytes_to_i32(block + PackedQ4K::scale + 16 * j);
        LUMEN_UNROLL
        for (int t = 0; t < N; ++t) {
          const int8_t* x = xq[int64_t(t0 + t) * a.blocks + b].qs + 32 * j;
          isum[t] = V::add(isum[t], V::mullo(two_chains<V>(V::splat(0), q, x), scale));
        }
      }
      const typename V::F d = V::scales(block + PackedQ4K::d), dmin = V::scales(block + PackedQ4K::dmin);
      LUMEN_UNROLL
      for (int t = 0; t < N; ++t) {
        const PackedActK& xk = a.xk[int64_t(t0 + t) * a.blocks + b];
        I msum = V::splat(0);
        LUMEN_UNROLL
        for (int p = 0; p < 4; ++p) msum = V::dot_pairs(msum, block + PackedQ4K::min + 32 * p, xk.sum_pairs[p]);
        acc[g][t] = V::fma_int(isum[t], V::mul(d, xk.d), acc[g][t]);
        acc[g][t] = V::fnma_int(msum, V::mul(dmin, xk.d), acc[g][t]);
      }
    }
  }
  store_tile<V, G, N>(a, groups, t0, acc);
}

// Q6_K group block (PackedQ6K): marks the Q6_K tile.
template <class V>
struct Q6K {
  static constexpr size_t kBytes = PackedQ6K::bytes;
  static constexpr int kPairedTokens = kPairedTokensMost;
};

// The 8 vectors of levels of 32 values: nibble chunk c's low nibbles (vector c) and high ones
// (vector 4 + c), each with its top 2 bits from top-bit chunk 0 or 1, bit pair c.
template <class V, int C>
inline void q6k_levels(const uint8_t* chunk, typename V::I* q) {
  if constexpr (C < 4) {
    const typename V::I v = V::load(chunk + 64 * C);
    const typename V::I top0 = V::load(chunk + PackedQ6K::high), top1 = V::load(chunk + PackedQ6K::high + 64);
    q[C] = V::or_(V::low(v), V::template top_bits<C>(top0));
    q[C + 4] = V::or_(V::high(v), V::template top_bits<C>(top1));
    q6k_levels<V, C + 1>(chunk, q);
  }
}

// Groups groups[0 .. G) x tokens [t0, t0 + N) of Q6_K weights: per 32 values the levels are
// built once for N tokens; the tokens' integer sums stay in registers across the super-block.
template <class V, int G, int N>
inline void tile_q6k(const PackedArgs& a, const int64_t* groups, int t0) {
  using I = typename V::I;
  typename V::F acc[G][N];
  zero_tile<V, G, N>(acc);
  const auto* xq = static_cast<const BlockQ8_K*>(a.xq);
  for (int64_t b = 0; b < a.blocks; ++b) {
    LUMEN_UNROLL
    for (int g = 0; g < G; ++g) {
      const uint8_t* block = a.w + groups[g] * a.group_stride + b * PackedQ6K::bytes;
      I isum[N];
      LUMEN_UNROLL
      for (int t = 0; t < N; ++t) isum[t] = V::splat(0);
      for (int j = 0; j < 8; ++j) {
        I q[8];
        q6k_levels<V, 0>(block + PackedQ6K::quants + PackedQ6K::chunk * j, q);
        for (int h = 0; h < 2; ++h) {  // sub-block 2j + h: vectors 4h .. 4h + 3
          const int k = 2 * j + h;
          const I scale = V::sbytes_to_i32(block + PackedQ6K::scale + 16 * k);
          LUMEN_UNROLL
          for (int t = 0; t < N; ++t) {
            const BlockQ8_K& x = xq[int64_t(t0 + t) * a.blocks + b];
            I dot = V::splat(-32 * x.bsums[k]);
            LUMEN_UNROLL
            for (int c = 0; c < 4; ++c) dot = V::dot(dot, q[4 * h + c], x4(x.qs + 16 * k, c));
            isum[t] = V::add(isum[t], V::mullo(dot, scale));
          }
        }
      }
      const typename V::F d = V::scales(block + PackedQ6K::d);
      LUMEN_UNROLL
      for (int t = 0; t < N; ++t)
        acc[g][t] = V::fma_int(isum[t], V::mul(d, a.xk[int64_t(t0 + t) * a.blocks + b].d), acc[g][t]);
    }
  }
  store_tile<V, G, N>(a, groups, t0, acc);
}

// Groups groups[0 .. G) x tokens [t0, t0 + N).
template <class K, class V, int G, int N>
inline void tile(const PackedArgs& a, const int64_t* groups, int t0) {
  typename V::F acc[G][N];
  zero_tile<V, G, N>(acc);
  for (int64_t b = 0; b < a.blocks; ++b) {
    LUMEN_UNROLL
    for (int g = 0; g < G; ++g) {
      const typename K::Weights w = K::unpack(a.w + groups[g] * a.group_stride + b * K::kBytes);
      LUMEN_UNROLL
      for (int t = 0; t < N; ++t) {
        const int64_t xb = int64_t(t0 + t) * a.blocks + b;
        const typename V::I isum = K::dot(w, static_cast<const BlockQ8_0*>(a.xq)[xb], a.xa[xb].offset);
        acc[g][t] = V::fma_int(isum, V::mul(w.d, a.xa[xb].d), acc[g][t]);
      }
    }
  }
  store_tile<V, G, N>(a, groups, t0, acc);
}

template <class K, class V, int G, int N>
inline void run_tile(const PackedArgs& a, const int64_t* groups, int t0) {
  if constexpr (std::is_same_v<K, Q4K<V>>) tile_q4k<V, G, N>(a, groups, t0);
  else if constexpr (std::is_same_v<K, Q6K<V>>) tile_q6k<V, G, N>(a, groups, t0);
  else tile<K, V, G, N>(a, groups, t0);
}

// Decode and small batches (fewer than V::kTokens tokens, all in one tile): up to the type's
// kPairedTokens tokens, kDecodeStreams runs of the range, one group of each at a time so that
// several memory streams are in flight, then the rest; more tokens, one group at a time.
template <class K, class V, int T>
void few_tokens(const PackedArgs& a, int64_t begin, int64_t end) {
  constexpr int S = T <= K::kPairedTokens ? kDecodeStreams : 1;
  const int64_t run = (end - begin) / S;
  for (int64_t i = 0; i < run; ++i) {
    int64_t groups[S];
    for (int s = 0; s < S; ++s) groups[s] = begin + s * run + i;
    run_tile<K, V, S, T>(a, groups, 0);
  }
  for (int64_t g = begin + S * run; g < end; ++g) run_tile<K, V, 1, T>(a, &g, 0);
}

// few_tokens for exactly a.n_tokens = M, M - 1, ..., 1 tokens.
template <class K, class V, int M>
inline void few_tokens_of(const PackedArgs& a, int64_t begin, int64_t end) {
  if constexpr (M > 0) {
    if (a.n_tokens == M) return few_tokens<K, V, M>(a, begin, end);
    few_tokens_of<K, V, M - 1>(a, begin, end);
  }
}

// Tokens [t, t + n) of group g for n < N: one tile of exactly n tokens, so that a prompt's last
// few tokens still read each weight block once.
template <class K, class V, int M>
inline void short_tile(const PackedArgs& a, int64_t g, int t, int n) {
  if constexpr (M > 0) {
    if (n == M) return run_tile<K, V, 1, M>(a, &g, t);
    short_tile<K, V, M - 1>(a, g, t, n);
  }
}

template <class K, class V>
void groups(const PackedArgs& a, int64_t begin, int64_t end) {
  constexpr int N = V::kTokens;
  if (a.n_tokens < N) return few_tokens_of<K, V, N - 1>(a, begin, end);
  for (int tb = 0; tb < a.n_tokens; tb += kTokenBlock) {
    const int te = a.n_tokens - tb < kTokenBlock ? a.n_tokens : tb + kTokenBlock;
    for (int64_t g = begin; g < end; ++g) {
      int t = tb;
      for (; t + N <= te; t += N) run_tile<K, V, 1, N>(a, &g, t);
      if (t < te) short_tile<K, V, N - 1>(a, g, t, te - t);
    }
  }
}

template <class V>
PackedGroups select(DType t) {
  switch (t) {
    case DType::Q4_0: return &groups<Q4<V>, V>;
    case DType::Q8_0: return &groups<Q8<V>, V>;
    case DType::Q4_K: return &groups<Q4K<V>, V>;
    case DType::Q6_K: return &groups<Q6K<V>, V>;
    default: return nullptr;
  }
}

}  // namespace
}  // namespace lumen::packed

#undef LUMEN_UNROLL
