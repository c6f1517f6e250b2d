#pragma once
// The register-tiled matrix product shared by every SIMD path. An ISA file includes this under
// its own `target` pragma and instantiates gemm_rows<V, T> with a traits type V that wraps the
// intrinsics:
//   Reg, kWidth (floats per register), kRows and kTokens (weight rows and token columns of the
//   prefill register tile), zero(), fma(a, b, acc), sum(reg), load_x(const float*),
//   load_w<T>(const uint8_t* row, i).
// Prefill: a tile holds kRows weight rows x kTokens tokens of accumulators. Each step loads
// (and widens from f16/bf16) one register of every row, then streams the tokens' activation
// registers past them, so every weight register feeds kTokens FMAs and every activation
// register kRows FMAs: the product is bound by FMA throughput, not by loads.
// Decode (fewer tokens than kTokens): memory bound, so the goal is to stream the weights at
// full bandwidth. Each thread splits its rows into kDecodeRuns runs and reads one row of each
// run at a time: four streams far apart, which this VM's memory serves faster than one stream
// or than adjacent rows, and four independent FMA chains (one chain of 4-cycle FMAs on 16 f16
// weights reads only 8 bytes a cycle, less than a core's share of the bandwidth).
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
// tokens instead of once per token tile. (Rounded down to whole token tiles in gemm_rows.)
constexpr int kTokenBlock = 64;

// Row runs a decode thread reads at once (see the top of the file).
constexpr int kDecodeRuns = 4;

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

// Keeps a loaded register in a register: without it GCC folds the load of an activation (or of
// an f32 weight) into each of the FMAs that use it, and the tile issues a load per FMA instead
// of one per register (F32 prefill ran at 0.35x the F16 speed that way).
template <class Reg>
inline void in_register(Reg& v) {
  asm("" : "+v"(v));
}

// One R x N tile: rows r0, r0 + step, ..., r0 + (R - 1) * step; tokens [t0, t0 + N). If next
// is given, R rows from there (row_stride apart) are prefetched into L2 along the way.
template <class V, DType T, int R, int N>
inline void tile(const GemmArgs& a, int64_t r0, int64_t step, int t0, const uint8_t* next = nullptr) {
  using Reg = typename V::Reg;
  Reg acc[R][N];
  const uint8_t* w[R];
  const float* x[N];
  for (int r = 0; r < R; ++r) w[r] = a.w + (r0 + r * step) * a.row_stride;
  for (int t = 0; t < N; ++t) x[t] = a.x + (t0 + t) * a.cols;
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < N; ++t) acc[r][t] = V::zero();

  int64_t c = 0;
  for (; c + V::kWidth <= a.cols; c += V::kWidth) {
    Reg wv[R];
    if (next)
      for (int r = 0; r < R; ++r)
        _mm_prefetch(reinterpret_cast<const char*>(next + r * a.row_stride + c * elem_bytes(T)), _MM_HINT_T1);
    for (int r = 0; r < R; ++r) {
      wv[r] = V::template load_w<T>(w[r], c);
      if constexpr (N > 1) in_register(wv[r]);
    }
    for (int t = 0; t < N; ++t) {
      Reg xv = V::load_x(x[t] + c);
      if constexpr (R > 1) in_register(xv);
      for (int r = 0; r < R; ++r) acc[r][t] = V::fma(wv[r], xv, acc[r][t]);
    }
  }
  if (const int n = int(a.cols - c); n > 0) {
    Reg wv[R];
    for (int r = 0; r < R; ++r) wv[r] = load_w_tail<V, T>(w[r], c, n);
    for (int t = 0; t < N; ++t) {
      const Reg xv = load_x_tail<V>(x[t] + c, n);
      for (int r = 0; r < R; ++r) acc[r][t] = V::fma(wv[r], xv, acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int t = 0; t < N; ++t) a.y[int64_t(t0 + t) * a.rows + r0 + r * step] = V::sum(acc[r][t]);
}

// An R x n tile for a run-time n < N; n == 0 does nothing.
template <class V, DType T, int R, int N>
inline void tile_n(const GemmArgs& a, int64_t r0, int64_t step, int t0, int n) {
  if constexpr (N > 1) {
    if (n == N - 1) return tile<V, T, R, N - 1>(a, r0, step, t0);
    tile_n<V, T, R, N - 1>(a, r0, step, t0, n);
  }
}

// R rows (r0, r0 + step, ...) against tokens [t_begin, t_end): full tiles, then the rest.
template <class V, DType T, int R>
inline void row_tile(const GemmArgs& a, int64_t r0, int64_t step, int t_begin, int t_end) {
  int t = t_begin;
  // The first tile of a prefill row tile also pulls the next row tile's weights into L2, so
  // that tile does not start on a wait for memory (+3 % on one thread; docs/PERF.md).
  if (R > 1 && step == 1 && t + V::kTokens <= t_end && r0 + 2 * R <= a.rows) {
    tile<V, T, R, V::kTokens>(a, r0, step, t, a.w + (r0 + R) * a.row_stride);
    t += V::kTokens;
  }
  for (; t + V::kTokens <= t_end; t += V::kTokens) tile<V, T, R, V::kTokens>(a, r0, step, t);
  tile_n<V, T, R, V::kTokens>(a, r0, step, t, t_end - t);
}

template <class V, DType T>
void gemm_rows(const GemmArgs& a, int64_t row_begin, int64_t row_end) {
  if (a.n_tokens < V::kTokens) {  // decode: row i of each of the kDecodeRuns runs together
    const int64_t run = (row_end - row_begin) / kDecodeRuns;
    for (int64_t i = 0; i < run; ++i) row_tile<V, T, kDecodeRuns>(a, row_begin + i, run, 0, a.n_tokens);
    for (int64_t r = row_begin + kDecodeRuns * run; r < row_end; ++r) row_tile<V, T, 1>(a, r, 1, 0, a.n_tokens);
    return;
  }
  constexpr int R = V::kRows;
  constexpr int block = kTokenBlock / V::kTokens * V::kTokens;
  for (int tb = 0; tb < a.n_tokens; tb += block) {
    const int te = a.n_tokens - tb < block ? a.n_tokens : tb + block;
    int64_t r = row_begin;
    for (; r + R <= row_end; r += R) row_tile<V, T, R>(a, r, 1, tb, te);
    for (; r < row_end; ++r) row_tile<V, T, 1>(a, r, 1, tb, te);  // rows left at the range's end
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
