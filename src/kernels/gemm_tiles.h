#pragma once
// The register-tiled matrix product shared by every SIMD path. An ISA file includes this under
// its own `target` pragma and instantiates gemm_rows<V, T> with a traits type V that wraps the
// intrinsics:
//   Reg, kWidth (floats per register), kTokens (token columns of the register tile),
//   zero(), fma(a, b, acc), sum(reg), load_x(const float*), load_w<T>(const uint8_t* row, i).
// Prefill: a tile holds kGemmRowTile weight rows x V::kTokens tokens of accumulators, so every
// weight register loaded (and widened from f16/bf16) feeds kTokens FMAs and every activation
// register kGemmRowTile FMAs: the product becomes compute bound.
// Decode (fewer tokens than kTokens): memory bound, so the only goal is to stream the weights
// at full bandwidth. Each thread reads its rows one after another, a single sequential stream:
// on the Zen 4 development machine that runs 1.5x faster than four interleaved rows (the
// hardware prefetchers follow one stream best; docs/PERF.md has the measurements).
//
// Every tile sums each output with one accumulator in column order, so an output's value does
// not depend on the tile that computed it: results are the same for any thread count, and a
// token gives the same outputs alone (decode) as inside a batch (prefill).
//
// V is declared in an anonymous namespace by each ISA file, so every instantiation here has
// internal linkage and cannot be merged with another ISA's code by the linker.
#include <cstdint>
#include <cstring>

#include "kernels/gemm_kernel.h"

namespace lumen::gemm {

// Tokens per outer block: the block's activations (64 x cols floats) stay in L2 while every
// row tile of the thread's range streams past them, so prefill reads the weights once per 64
// tokens instead of once per token tile.
constexpr int kTokenBlock = 64;

constexpr size_t elem_bytes(DType t) { return t == DType::F32 ? 4 : 2; }

// Loads the last n (< kWidth) elements of a row through a zero-padded copy, so no read goes
// past the end of the row; the zero lanes add nothing to the dot product.
template <class V, DType T>
inline typename V::Reg load_w_tail(const uint8_t* row, int64_t i, int n) {
  alignas(64) uint8_t buf[V::kWidth * 4] = {};
  std::memcpy(buf, row + i * elem_bytes(T), n * elem_bytes(T));
  return V::template load_w<T>(buf, 0);
}

template <class V>
inline typename V::Reg load_x_tail(const float* x, int n) {
  alignas(64) float buf[V::kWidth] = {};
  std::memcpy(buf, x, n * sizeof(float));
  return V::load_x(buf);
}

// One R x N tile: rows [r0, r0 + R), tokens [t0, t0 + N).
template <class V, DType T, int R, int N>
inline void tile(const GemmArgs& a, int64_t r0, int t0) {
  using Reg = typename V::Reg;
  Reg acc[R][N];
  const uint8_t* w[R];
  const float* x[N];
  for (int r = 0; r < R; ++r) w[r] = a.w + (r0 + r) * a.row_stride;
  for (int t = 0; t < N; ++t) x[t] = a.x + (t0 + t) * a.cols;
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < N; ++t) acc[r][t] = V::zero();

  int64_t c = 0;
  for (; c + V::kWidth <= a.cols; c += V::kWidth) {
    Reg xv[N];
    for (int t = 0; t < N; ++t) xv[t] = V::load_x(x[t] + c);
    for (int r = 0; r < R; ++r) {
      const Reg wv = V::template load_w<T>(w[r], c);
      for (int t = 0; t < N; ++t) acc[r][t] = V::fma(wv, xv[t], acc[r][t]);
    }
  }
  if (const int n = int(a.cols - c); n > 0) {
    Reg xv[N];
    for (int t = 0; t < N; ++t) xv[t] = load_x_tail<V>(x[t] + c, n);
    for (int r = 0; r < R; ++r) {
      const Reg wv = load_w_tail<V, T>(w[r], c, n);
      for (int t = 0; t < N; ++t) acc[r][t] = V::fma(wv, xv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < N; ++t) a.y[int64_t(t0 + t) * a.rows + r0 + r] = V::sum(acc[r][t]);
}

// Rows [r0, r0 + R) against tokens [t_begin, t_end): full token tiles, then single tokens.
template <class V, DType T, int R>
inline void row_tile(const GemmArgs& a, int64_t r0, int t_begin, int t_end) {
  int t = t_begin;
  for (; t + V::kTokens <= t_end; t += V::kTokens) tile<V, T, R, V::kTokens>(a, r0, t);
  for (; t < t_end; ++t) tile<V, T, R, 1>(a, r0, t);
}

template <class V, DType T>
void gemm_rows(const GemmArgs& a, int64_t row_begin, int64_t row_end) {
  if (a.n_tokens < V::kTokens) {  // decode: one sequential stream of rows
    for (int64_t r = row_begin; r < row_end; ++r) row_tile<V, T, 1>(a, r, 0, a.n_tokens);
    return;
  }
  constexpr int R = int(kGemmRowTile);
  for (int tb = 0; tb < a.n_tokens; tb += kTokenBlock) {
    const int te = a.n_tokens - tb < kTokenBlock ? a.n_tokens : tb + kTokenBlock;
    int64_t r = row_begin;
    for (; r + R <= row_end; r += R) row_tile<V, T, R>(a, r, tb, te);
    for (; r < row_end; ++r) row_tile<V, T, 1>(a, r, tb, te);  // odd rows at the range's end
  }
}

// The kernel for weights of type t, or nullptr for types without one.
template <class V>
GemmRows select(DType t) {
  switch (t) {
    case DType::F32: return &gemm_rows<V, DType::F32>;
    case DType::F16: return &gemm_rows<V, DType::F16>;
    case DType::BF16: return &gemm_rows<V, DType::BF16>;
    default: return nullptr;
  }
}

}  // namespace lumen::gemm
