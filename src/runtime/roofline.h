#pragma once
// The ceilings the benchmarks measure against, measured on the machine they run on: its memory
// read bandwidth, read the way a matrix x vector product reads memory (a decode step streams
// every weight once, so tokens/s <= bandwidth / weight bytes per token), and its peak f32 FMA
// and int8 dot-product throughput (prefill is compute bound: 2 x parameters operations per
// token).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "runtime/thread_pool.h"

namespace lumen {

inline std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// 32 bytes of integers: GCC/Clang vector extension, so the loads are SIMD in any build.
using Chunk = uint64_t __attribute__((vector_size(32)));

// Matrix rows of 768 floats, the width of most matrices of the 110M model.
constexpr size_t kRowChunks = 768 * sizeof(float) / sizeof(Chunk);

// XOR-reduces n_rows rows of kRowChunks chunks, S rows at a time, one 64-byte line of each of
// the S rows per step: the access pattern of a matrix x vector kernel with an S-row tile.
template <int S>
uint64_t read_rows(const Chunk* p, size_t n_rows) {
  Chunk acc[S] = {};
  for (size_t r = 0; r + S <= n_rows; r += S, p += S * kRowChunks)
    for (size_t i = 0; i < kRowChunks; i += 2)
      for (int s = 0; s < S; ++s) acc[s] ^= p[s * kRowChunks + i] ^ p[s * kRowChunks + i + 1];
  Chunk all = {};
  for (int s = 0; s < S; ++s) all ^= acc[s];
  return all[0] ^ all[1] ^ all[2] ^ all[3];
}

inline uint64_t read_rows(int streams, const Chunk* p, size_t n_rows) {
  switch (streams) {
    case 1: return read_rows<1>(p, n_rows);
    case 2: return read_rows<2>(p, n_rows);
    case 4: return read_rows<4>(p, n_rows);
    default: return read_rows<8>(p, n_rows);
  }
}

// Best-of-`repeats` read bandwidth in GB/s (1e9 bytes) of `buffer` (far larger than the caches)
// split across the pool's threads in contiguous runs of rows, each thread reading `streams`
// (1, 2, 4 or 8) rows at a time.
inline double read_bandwidth(ThreadPool& pool, const std::vector<Chunk>& buffer, int streams, int repeats) {
  const int nth = pool.size();
  const size_t rows_per_thread = buffer.size() / kRowChunks / nth / 8 * 8;  // whole tiles of 8
  std::vector<uint64_t> sink(nth);
  double best = 0;
  for (int rep = 0; rep < repeats; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.run([&](int i, int) {
      sink[i] ^= read_rows(streams, buffer.data() + i * rows_per_thread * kRowChunks, rows_per_thread);
    });
    const double s = seconds_since(t0);
    best = std::max(best, double(rows_per_thread * nth * kRowChunks * sizeof(Chunk)) / s / 1e9);
  }
  // The sum is consumed so that the reads cannot be optimised away.
  if (std::find(sink.begin(), sink.end(), 0x5eed) != sink.end()) best += 1e-12;
  return best;
}

// Best read bandwidth in GB/s over 1, 2, 4 and 8 concurrent row streams per thread, of a
// buffer of `bytes` (make it far larger than the caches).
double measure_read_bandwidth(ThreadPool& pool, size_t bytes, int repeats);

// Peak multiply-add throughput of the kernel ISA in use, in GFLOP/s (f32 FMA: 2 operations per
// lane) and in int8 GOP/s (u8 x s8 dot products: 2 operations per byte pair), all threads busy.
double measure_peak_f32_gflops(ThreadPool& pool);
double measure_peak_int8_gops(ThreadPool& pool);

}  // namespace lumen
