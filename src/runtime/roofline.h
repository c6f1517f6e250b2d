#pragma once
// The ceilings the benchmarks measure against, measured on the machine they run on: its memory
// read bandwidth (runtime/read_bandwidth.h; a decode step streams every weight once, so
// tokens/s <= bandwidth / weight bytes per token), and its peak f32 FMA and int8 dot-product
// throughput (prefill is compute bound: 2 x parameters operations per token).
#include <chrono>
#include <fstream>
#include <string>

#include "runtime/read_bandwidth.h"
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

// Peak multiply-add throughput of the kernel ISA in use, in GFLOP/s (f32 FMA: 2 operations per
// lane) and in int8 GOP/s (u8 x s8 dot products: 2 operations per byte pair), all threads busy.
double measure_peak_f32_gflops(ThreadPool& pool);
double measure_peak_int8_gops(ThreadPool& pool);

}  // namespace lumen
