#pragma once
// The ceilings the benchmarks measure against: the machine's name and its memory read
// bandwidth, measured the way a matrix x vector product reads memory. A decode step streams
// every weight once, so tokens/s <= bandwidth / weight bytes per token.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "runtime/thread_pool.h"

namespace lumen::bench {

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

// XOR-reduces S interleaved streams of n chunks each: stream s is p + s * n. One 64-byte line
// of every stream per iteration, as a matrix x vector kernel reads S rows at once.
template <int S>
uint64_t read_streams(const Chunk* p, size_t n) {
  Chunk acc[S] = {};
  for (size_t i = 0; i + 2 <= n; i += 2)
    for (int s = 0; s < S; ++s) acc[s] ^= p[s * n + i] ^ p[s * n + i + 1];
  Chunk all = {};
  for (int s = 0; s < S; ++s) all ^= acc[s];
  return all[0] ^ all[1] ^ all[2] ^ all[3];
}

inline uint64_t read_streams(int streams, const Chunk* p, size_t n) {
  switch (streams) {
    case 1: return read_streams<1>(p, n);
    case 2: return read_streams<2>(p, n);
    case 4: return read_streams<4>(p, n);
    default: return read_streams<8>(p, n);
  }
}

// Best-of-`repeats` read bandwidth in GB/s (1e9 bytes) of `buffer` (far larger than the caches)
// split across the pool's threads, each reading its share as `streams` (1, 2, 4 or 8) streams.
inline double read_bandwidth(ThreadPool& pool, const std::vector<Chunk>& buffer, int streams, int repeats) {
  const int nth = pool.size();
  const size_t per_stream = buffer.size() / (size_t(nth) * streams) & ~size_t(1);
  std::vector<uint64_t> sink(nth);
  double best = 0;
  for (int rep = 0; rep < repeats; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.run([&](int i, int) {
      sink[i] ^= read_streams(streams, buffer.data() + size_t(i) * streams * per_stream, per_stream);
    });
    const double s = seconds_since(t0);
    best = std::max(best, double(per_stream * streams * nth * sizeof(Chunk)) / s / 1e9);
  }
  // The sum is consumed so that the reads cannot be optimised away.
  if (std::find(sink.begin(), sink.end(), 0x5eed) != sink.end()) best += 1e-12;
  return best;
}

}  // namespace lumen::bench
