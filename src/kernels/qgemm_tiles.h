#pragma once
// The quantized matrix product shared by the AVX2 and AVX-512 paths, on 256-bit registers (32
// quants, one 32-value block or sub-block, per register). An ISA file includes this under its
// own `target` pragma and instantiates select<V>() with a type V that supplies one primitive:
//   V::dot(acc, u8, s8): acc + 8 int32 lanes, lane i = sum of the products of bytes 4i .. 4i + 3
// (AVX2: vpmaddubsw + vpmaddwd + vpaddd; AVX-512 VNNI: one vpdpbusd). Both give the same exact
// integers (the products below never saturate vpmaddubsw's 16-bit pairs), so the two paths give
// bit-identical outputs. The scalar twins in qgemm_scalar.cpp do the same integer arithmetic.
//
// Per weight type a kernel K supplies: Block, Weights (one block unpacked into registers),
// unpack(block), and accumulate(weights, args, token, block, v, s), which adds the block's
// contribution to the token's output: its exact integer dot product in 8 int32 lanes,
// converted to float and multiplied by the block's scales into the 8 float lanes v (and, for
// Q4_1/Q5_1, its minimum term into s).
//
// Prefill: a tile of R rows x N tokens unpacks each weight block once and uses it for N
// tokens. Decode: rows are taken kDecodeRows at a time, one token.
// Every output is accumulated by the same sequence of operations in every tile shape, so a
// token gives bit-identical outputs alone (decode) and inside a batch (prefill).
//
// Everything here is in an anonymous namespace, deliberately for a header: each ISA file gets
// its own copy compiled for its own target, with internal linkage, so the linker cannot merge
// the AVX-512 build of a helper into the AVX2 path (or the reverse).
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/avx2_reduce.h"
#include "kernels/qgemm_kernel.h"

namespace lumen::qgemm {
namespace {

using namespace quants;

constexpr int kTokenBlock = 64;   // tokens whose activations stay in L2 while the rows stream by
constexpr int kPrefillRows = 2;   // prefill tile: rows ...
constexpr int kPrefillTokens = 4; // ... x tokens
constexpr int kDecodeRows = 1;    // rows in flight per thread in decode

inline __m256i bytes(uint8_t v) { return _mm256_set1_epi8(char(v)); }
inline __m256i load32(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }
inline float f16(uint16_t h) { return _cvtsh_ss(h); }

// One output's running sum: two chains of 8 float lanes of scaled block dot products, even
// blocks in one and odd blocks in the other, and a scalar for the minimum terms of Q4_1/Q5_1.
// Two chains so that a block need not wait for the previous block's FMA (4 cycles on Zen 4):
// 4-10 % faster decode for Q8_0 and the K-quants in L2, ~4 % for Q4_0.
// (No default member initializers: the implicit constructor would not be compiled for the
// file's target, which breaks a build without -march flags.)
struct Acc {
  __m256 v[2];
  float s;
};
inline Acc zero_acc() { return {{_mm256_setzero_ps(), _mm256_setzero_ps()}, 0}; }
inline float finish(const Acc& a) { return hsum(_mm256_add_ps(a.v[0], a.v[1])) + a.s; }

// v += d * float(isum), lane by lane.
inline void add_scaled(__m256& v, __m256i isum, float d) {
  v = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(d), v);
}

// ---- 32-value blocks against Q8_0 activations ----

// The 32 nibbles of a block in value order: low nibbles are values 0-15, high ones 16-31.
// (The 16 bytes are loaded into both halves and only the upper half shifted: one instruction
// fewer than shifting a copy and inserting it.)
inline __m256i nibbles(const uint8_t* qs) {
  const __m256i v = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qs)));
  return _mm256_and_si256(_mm256_srlv_epi64(v, _mm256_setr_epi64x(0, 0, 4, 4)), bytes(0x0F));
}

// 0x10 in byte j where bit j of the little-endian 32-bit qh is set (Q5_0/Q5_1's fifth bit):
// each byte first takes the byte of qh that holds its bit, then tests its own bit.
inline __m256i fifth_bits(const uint8_t* qh) {
  uint32_t h;
  std::memcpy(&h, qh, 4);
  const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(int(h)),
                                             _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,  //
                                                              2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const __m256i bit = _mm256_set1_epi64x(0x8040201008040201);
  return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), bytes(0x10));
}

// Q8_0's signed quants (value = q * d).
inline __m256i signed_quants(const BlockQ8_0& b) { return load32(b.qs); }

// The other types as unsigned quants u: value = (u - 8) d (Q4_0), (u - 16) d (Q5_0), u d + m
// (Q4_1, Q5_1).
inline __m256i unsigned_quants(const BlockQ4_0& b) { return nibbles(b.qs); }
inline __m256i unsigned_quants(const BlockQ4_1& b) { return nibbles(b.qs); }
inline __m256i unsigned_quants(const BlockQ5_0& b) { return _mm256_or_si256(nibbles(b.qs), fifth_bits(b.qh)); }
inline __m256i unsigned_quants(const BlockQ5_1& b) { return _mm256_or_si256(nibbles(b.qs), fifth_bits(b.qh)); }

// d broadcast to 8 lanes, widened straight from its f16 bits.
inline __m256 scale8(uint16_t d) { return _mm256_cvtph_ps(_mm_set1_epi16(short(d))); }

// v += float(isum) * x_d * w_d, lane by lane: the activation's scale
// is a broadcast operand and the weight's was broadcast once per block, which is fewer
// instructions than forming w_d * x_d.
inline void add_scaled(__m256& v, __m256i isum, float x_d, __m256 w_d) {
  v = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(x_d)), w_d, v);
}

inline const BlockQ8_0& act_q8_0(const QGemmArgs& a, int t, int64_t b) {
  return reinterpret_cast<const BlockQ8_0*>(a.xq + t * a.xq_stride)[b];
}

// Q8_0: vpmaddubsw/vpdpbusd multiply unsigned by signed bytes, so the weight's sign moves onto
// the activation: w * x = |w| * (x * sign(w)).
template <class V>
struct Q8_0 {
  using Block = BlockQ8_0;
  struct Weights {
    __m256i abs, sign;
    __m256 d;
  };
  static Weights unpack(const Block& b) {
    const __m256i q = signed_quants(b);
    return {_mm256_sign_epi8(q, q), q, scale8(b.d)};
  }
  static void accumulate(const Weights& w, const QGemmArgs& a, int t, int64_t b, __m256& v, float&) {
    const __m256i x = _mm256_sign_epi8(load32(act_q8_0(a, t, b).qs), w.sign);
    add_scaled(v, V::dot(_mm256_setzero_si256(), w.abs, x), a.xs[t * a.blocks + b].d, w.d);
  }
};

// Q4_0, Q5_0: (u - 8) . x = u . x - 8 sum x: the dot product starts from ActScale::offset4, so
// it yields the exact integer sum_j (u_j - 8) x_j (16 for Q5_0) with no sign work.
template <class V, class B>
struct Offset {
  using Block = B;
  struct Weights {
    __m256i u;
    __m256 d;
  };
  static Weights unpack(const Block& b) { return {unsigned_quants(b), scale8(b.d)}; }
  static void accumulate(const Weights& w, const QGemmArgs& a, int t, int64_t b, __m256& v, float&) {
    const ActScale& xs = a.xs[t * a.blocks + b];
    add_scaled(v, V::dot(load32(xs.offset4), w.u, load32(act_q8_0(a, t, b).qs)), xs.d, w.d);
  }
};

// Q4_1, Q5_1: sum_j (u_j d + m) x_j = d (u . x) + m sum_j x_j, the last from ActScale::s.
template <class V, class B>
struct WithMin {
  using Block = B;
  struct Weights {
    __m256i u;
    __m256 d;
    float m;
  };
  static Weights unpack(const Block& b) { return {unsigned_quants(b), scale8(b.d), f16(b.m)}; }
  static void accumulate(const Weights& w, const QGemmArgs& a, int t, int64_t b, __m256& v, float& s) {
    const ActScale& xs = a.xs[t * a.blocks + b];
    add_scaled(v, V::dot(_mm256_setzero_si256(), w.u, load32(act_q8_0(a, t, b).qs)), xs.d, w.d);
    s = std::fma(w.m, xs.s, s);
  }
};

// ---- K-quant super-blocks against Q8_K activations ----
// Each sub-block's dot product is multiplied by its integer scale inside the 16-bit lanes
// (vpmaddubsw, then vpmaddwd by the scale), which costs what vpdpbusd + a 32-bit multiply
// would, so both paths share this code (still templated on V, for the linkage noted above).

inline const BlockQ8_K& act_q8_k(const QGemmArgs& a, int t, int64_t b) {
  return reinterpret_cast<const BlockQ8_K*>(a.xq + t * a.xq_stride)[b];
}

// A vpshufb control that fills the low 128-bit lane with 16-bit lane `lo` of its source and the
// high lane with 16-bit lane `hi` (each lane of vpshufb picks from its own 128 bits).
inline __m256i spread16(int lo, int hi) {
  return _mm256_set_m128i(_mm_set1_epi16(short(0x0100 + 0x0202 * hi)), _mm_set1_epi16(short(0x0100 + 0x0202 * lo)));
}

// sum over 32-byte chunks c of scale16[c] * (q[c] . x[c]): q unsigned, x signed, scale16[c]
// 16 int16 lanes (lanes 0-7 scale bytes 0-15 of the chunk, lanes 8-15 bytes 16-31).
template <int Chunks>
inline __m256i scaled_dots(const __m256i* q, const __m256i* scale16, const int8_t* x) {
  __m256i isum = _mm256_setzero_si256();
  for (int c = 0; c < Chunks; ++c)
    isum = _mm256_add_epi32(isum, _mm256_madd_epi16(_mm256_maddubs_epi16(q[c], load32(x + 32 * c)), scale16[c]));
  return isum;
}

// The eight 6-bit scales and mins of Q4_K/Q5_K's 12 scale bytes (quant_k.h's scale_min_k4),
// four at a time in 32-bit words: sub-blocks 0-3 are the low 6 bits of bytes 0-3 (scales) and
// 4-7 (mins); sub-blocks 4-7 take their low 4 bits from the nibbles of bytes 8-11 and their
// top 2 bits from bits 6-7 of bytes 0-3 (scales) and 4-7 (mins).
inline void scales_mins_k4(const uint8_t* p, uint8_t scale[8], uint8_t min[8]) {
  uint32_t a, b, c;
  std::memcpy(&a, p, 4);
  std::memcpy(&b, p + 4, 4);
  std::memcpy(&c, p + 8, 4);
  const uint32_t low6 = 0x3F3F3F3F, low4 = 0x0F0F0F0F, bits45 = 0x30303030;
  const uint32_t s[2] = {a & low6, (c & low4) | ((a >> 2) & bits45)};
  const uint32_t m[2] = {b & low6, ((c >> 4) & low4) | ((b >> 2) & bits45)};
  std::memcpy(scale, s, 8);
  std::memcpy(min, m, 8);
}

// Q4_K/Q5_K: sum_j scale_j (q . x)_j * d - sum_j min_j (sum x)_j * dmin, the activation sums
// from Q8_K's bsums (lane j of vpmaddwd(bsums, mins16) = min_j * (bsums[2j] + bsums[2j+1])).
template <class V, class B>
struct K4 {
  using Block = B;
  struct Weights {
    __m256i q[8], scale16[8], mins16;
    float d, dmin;
  };
  static Weights unpack(const Block& b) {
    Weights w;
    uint8_t scale[8], min[8];
    scales_mins_k4(b.scales, scale, min);
    const __m256i s16 = _mm256_broadcastsi128_si256(
        _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(scale))));
    for (int j = 0; j < 8; ++j) w.scale16[j] = _mm256_shuffle_epi8(s16, spread16(j, j));
    const __m128i m = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(min)));
    w.mins16 = _mm256_set_m128i(_mm_unpackhi_epi16(m, m), _mm_unpacklo_epi16(m, m));
    for (int g = 0; g < 4; ++g) {  // 32 bytes: sub-block 2g in the low nibbles, 2g + 1 in the high
      const __m256i v = load32(b.qs + 32 * g);
      w.q[2 * g] = _mm256_and_si256(v, bytes(0x0F));
      w.q[2 * g + 1] = _mm256_and_si256(_mm256_srli_epi16(v, 4), bytes(0x0F));
    }
    if constexpr (requires { b.qh; }) {  // Q5_K: bit j of qh[l] is bit 4 of sub-block j's value l
      const __m256i qh = load32(b.qh);
      for (int j = 0; j < 8; ++j)
        w.q[j] = _mm256_or_si256(w.q[j], _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, j), bytes(1)), 4));
    }
    w.d = f16(b.d);
    w.dmin = f16(b.dmin);
    return w;
  }
  static void accumulate(const Weights& w, const QGemmArgs& a, int t, int64_t b, __m256& v, float&) {
    const BlockQ8_K& x = act_q8_k(a, t, b);
    add_scaled(v, scaled_dots<8>(w.q, w.scale16, x.qs), w.d * x.d);
    add_scaled(v, _mm256_madd_epi16(load32(x.bsums), w.mins16), -w.dmin * x.d);
  }
};

// Q6_K: sum_k scale_k (q - 32) . x over sub-blocks of 16 = sum_k scale_k (q . x)_k
// - 32 sum_k scale_k (sum x)_k, with q unsigned (0-63) so that vpmaddubsw can take it.
template <class V>
struct Q6K {
  using Block = BlockQ6_K;
  struct Weights {
    __m256i q[8], scale16[8], scales;
    float d;
  };
  static Weights unpack(const Block& b) {
    Weights w;
    for (int half = 0; half < 2; ++half) {
      const __m256i lo = load32(b.ql + 64 * half), hi = load32(b.ql + 64 * half + 32);
      const __m256i qh = load32(b.qh + 32 * half);
      const __m256i nib[4] = {_mm256_and_si256(lo, bytes(0x0F)), _mm256_and_si256(hi, bytes(0x0F)),
                              _mm256_and_si256(_mm256_srli_epi16(lo, 4), bytes(0x0F)),
                              _mm256_and_si256(_mm256_srli_epi16(hi, 4), bytes(0x0F))};
      for (int c = 0; c < 4; ++c) {  // values 32c .. 32c + 31 of the half: bit pair c of qh
        const __m256i top = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), bytes(3)), 4);
        w.q[4 * half + c] = _mm256_or_si256(nib[c], top);
      }
    }
    w.scales = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b.scales)));
    // Scales 8 half .. 8 half + 7 in both 128-bit lanes.
    const __m256i halves[2] = {_mm256_permute2x128_si256(w.scales, w.scales, 0x00),
                               _mm256_permute2x128_si256(w.scales, w.scales, 0x11)};
    for (int half = 0; half < 2; ++half)
      for (int c = 0; c < 4; ++c) w.scale16[4 * half + c] = _mm256_shuffle_epi8(halves[half], spread16(2 * c, 2 * c + 1));
    w.d = f16(b.d);
    return w;
  }
  static void accumulate(const Weights& w, const QGemmArgs& a, int t, int64_t b, __m256& v, float&) {
    const BlockQ8_K& x = act_q8_k(a, t, b);
    const __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(load32(x.bsums), w.scales), 5);
    add_scaled(v, _mm256_sub_epi32(scaled_dots<8>(w.q, w.scale16, x.qs), offset), w.d * x.d);
  }
};

// ---- activation quantization ----

// quantize_row(DType::Q8_0, ...) eight values per instruction, bit for bit: the same amax, the
// same d = amax / 127 and id = 1 / d in f32, d rounded to half to nearest even (vcvtps2ph), and
// x * id rounded half away from zero as std::round does. (The scalar quantizer costs ~3 ns a
// value, which decode would pay on ~400k activations per token of a 1B model.)
inline void quantize_q8_0(const float* x, BlockQ8_0* y, int64_t n) {
  const __m256 sign = _mm256_set1_ps(-0.0f), half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
  for (int64_t i = 0; i < n / kQK; ++i, x += kQK) {
    __m256 v[4], amax = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) {
      v[k] = _mm256_loadu_ps(x + 8 * k);
      amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[k]));
    }
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    const float d = _mm_cvtss_f32(m) / 127;
    const float id = d != 0 ? 1.0f / d : 0.0f;
    y[i].d = uint16_t(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT));
    __m256i q[4];
    for (int k = 0; k < 4; ++k) {
      const __m256 p = _mm256_mul_ps(v[k], _mm256_set1_ps(id));
      const __m256 a = _mm256_andnot_ps(sign, p);
      const __m256 t = _mm256_round_ps(a, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
      const __m256 up = _mm256_and_ps(_mm256_cmp_ps(_mm256_sub_ps(a, t), half, _CMP_GE_OQ), one);  // a - t is exact
      q[k] = _mm256_cvtps_epi32(_mm256_or_ps(_mm256_add_ps(t, up), _mm256_and_ps(sign, p)));
    }
    // Packing interleaves the 128-bit lanes; the permutation puts the values back in order.
    const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y[i].qs),
                        _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  }
}

// quantize_row(DType::Q8_K, ...) eight values per instruction, bit for bit: the same signed
// max (the first value of the largest magnitude), iscale = -127 / max and d = 1 / iscale in
// f32, iscale * x rounded to nearest even as ggml's nearest_int does (vcvtps2dq in the default
// rounding mode), capped at 127, and the sums of each 16 values.
inline void quantize_q8_k(const float* x, BlockQ8_K* y, int64_t n) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t i = 0; i < n / kQK_K; ++i, x += kQK_K) {
    __m256 amax8 = _mm256_setzero_ps();
    for (int k = 0; k < kQK_K; k += 8) amax8 = _mm256_max_ps(amax8, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + k)));
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax8), _mm256_extractf128_ps(amax8, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    const float amax = _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
    if (amax == 0) {
      std::memset(&y[i], 0, sizeof y[i]);
      continue;
    }
    int first = 0;
    while (std::fabs(x[first]) != amax) ++first;
    const float iscale = -127.f / x[first];
    const __m256 scale = _mm256_set1_ps(iscale);
    for (int g = 0; g < kQK_K / 16; ++g) {
      const __m256i lo = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(scale, _mm256_loadu_ps(x + 16 * g))),
                                          _mm256_set1_epi32(127));
      const __m256i hi = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(scale, _mm256_loadu_ps(x + 16 * g + 8))),
                                          _mm256_set1_epi32(127));
      // Packing interleaves the 128-bit lanes: 16-bit order lo0-3 hi0-3 lo4-7 hi4-7.
      const __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8);
      const __m128i bytes16 = _mm_packs_epi16(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(y[i].qs + 16 * g), bytes16);
      const __m256i sum8 = _mm256_add_epi32(lo, hi);
      __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum8), _mm256_extracti128_si256(sum8, 1));
      s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4E));
      s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xB1));
      y[i].bsums[g] = int16_t(_mm_cvtsi128_si32(s4));
    }
    y[i].d = 1 / iscale;
  }
}

// ---- the tiles ----

// Rows [r0, r0 + R) x tokens [t0, t0 + N): each weight block is unpacked once for N tokens.
template <class K, int R, int N>
inline void tile(const QGemmArgs& a, int64_t r0, int t0) {
  Acc acc[R][N];
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < N; ++t) acc[r][t] = zero_acc();
  const typename K::Block* w[R];
  for (int r = 0; r < R; ++r) w[r] = reinterpret_cast<const typename K::Block*>(a.w + (r0 + r) * a.row_stride);
  // Block b goes into chain b % 2 of its outputs.
  auto step = [&](int64_t b, int chain) {
    for (int r = 0; r < R; ++r) {
      const typename K::Weights wb = K::unpack(w[r][b]);
      for (int t = 0; t < N; ++t) K::accumulate(wb, a, t0 + t, b, acc[r][t].v[chain], acc[r][t].s);
    }
  };
  int64_t b = 0;
  for (; b + 2 <= a.blocks; b += 2) {
    step(b, 0);
    step(b + 1, 1);
  }
  if (b < a.blocks) step(b, 0);
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < N; ++t) a.y[int64_t(t0 + t) * a.rows + r0 + r] = finish(acc[r][t]);
}

// Rows [r0, r0 + R) against tokens [t_begin, t_end): full token tiles, then single tokens.
template <class K, int R>
inline void row_tile(const QGemmArgs& a, int64_t r0, int t_begin, int t_end) {
  int t = t_begin;
  for (; t + kPrefillTokens <= t_end; t += kPrefillTokens) tile<K, R, kPrefillTokens>(a, r0, t);
  for (; t < t_end; ++t) tile<K, R, 1>(a, r0, t);
}

template <class K>
void qgemm_rows(const QGemmArgs& a, int64_t row_begin, int64_t row_end) {
  if (a.n_tokens < kPrefillTokens) {  // decode: stream the rows once per token
    for (int t = 0; t < a.n_tokens; ++t) {
      int64_t r = row_begin;
      for (; r + kDecodeRows <= row_end; r += kDecodeRows) tile<K, kDecodeRows, 1>(a, r, t);
      for (; r < row_end; ++r) tile<K, 1, 1>(a, r, t);
    }
    return;
  }
  for (int tb = 0; tb < a.n_tokens; tb += kTokenBlock) {
    const int te = a.n_tokens - tb < kTokenBlock ? a.n_tokens : tb + kTokenBlock;
    int64_t r = row_begin;
    for (; r + kPrefillRows <= row_end; r += kPrefillRows) row_tile<K, kPrefillRows>(a, r, tb, te);
    for (; r < row_end; ++r) row_tile<K, 1>(a, r, tb, te);  // odd rows at the range's end
  }
}

// The kernel for weights of type t, or nullptr for types without one.
template <class V>
QGemmRows select(DType t) {
  switch (t) {
    case DType::Q8_0: return &qgemm_rows<Q8_0<V>>;
    case DType::Q4_0: return &qgemm_rows<Offset<V, BlockQ4_0>>;
    case DType::Q5_0: return &qgemm_rows<Offset<V, BlockQ5_0>>;
    case DType::Q4_1: return &qgemm_rows<WithMin<V, BlockQ4_1>>;
    case DType::Q5_1: return &qgemm_rows<WithMin<V, BlockQ5_1>>;
    case DType::Q4_K: return &qgemm_rows<K4<V, BlockQ4_K>>;
    case DType::Q5_K: return &qgemm_rows<K4<V, BlockQ5_K>>;
    case DType::Q6_K: return &qgemm_rows<Q6K<V>>;
    default: return nullptr;
  }
}

}  // namespace
}  // namespace lumen::qgemm
