#pragma once
// Memory read bandwidth, measured the way a matrix x vector product reads its weights: every
// thread streams its share of a buffer far larger than the caches, in several concurrent
// sequential streams. Decode is bound by it (tokens/s <= bandwidth / weight bytes per token).
//
// What the figure depends on (measured with bench/bench_bandwidth on the 2-vCPU Zen 4 VM):
// - page faults: the buffer is written before it is timed. On that VM, faulting in 1 GiB took
//   1.5 to 8 s (its kernel reports freed pages to the host, so touching them again probably
//   faults there too), so the buffer is kept to 256 MiB, which reads as fast as 1 GiB;
// - page size: transparent huge pages are requested. With 4 KiB pages one stream per thread read
//   23-30 GB/s against 32-34 with 2 MiB pages, and more streams were needed to make up for it;
// - stream layout: the streams of a thread start far apart. Adjacent rows read as 2 or 4 streams
//   ran at half the speed of one stream; segments are also skewed off power-of-two distances so
//   that streams cannot share cache sets (no effect measured there; a precaution);
// - other processes: the figure is the best over 1/2/4/8/16 streams and over short repetitions
//   spread over about a second, interleaved across stream counts, so a burst of load costs a
//   few repetitions rather than a whole stream count.
// What it cannot remove: on that VM two threads read either ~36 or ~64 GB/s for tens of seconds
// at a time, with the guest idle and both vCPUs computing at full speed (host-side sharing of
// the memory path); the probe reports the state of the moment.
#include <array>
#include <cstddef>
#include <cstdint>

#include "runtime/thread_pool.h"
#include "tensor/huge_page_memory.h"

namespace lumen {

inline constexpr std::array<int, 5> kReadStreams = {1, 2, 4, 8, 16};

// 32 bytes of integers: GCC/Clang vector extension, so the loads are SIMD in any build.
using Chunk = uint64_t __attribute__((vector_size(32)));

// 8x the 32 MiB L3 of the development machine: at most an eighth of a pass can hit in the L3.
inline constexpr size_t kReadBufferBytes = size_t(256) << 20;

// Anonymous memory for the probe: 2 MiB aligned, transparent huge pages requested (unless
// `huge_pages` is false, to show what they are worth), every page written by the pool thread
// that will read it (first touch places it on that thread's node).
class ReadBuffer {
 public:
  explicit ReadBuffer(ThreadPool& pool, size_t bytes = kReadBufferBytes, bool huge_pages = true);

  const Chunk* data() const { return data_; }
  size_t chunks() const { return chunks_; }

 private:
  HugePageMemory memory_;
  Chunk* data_;
  size_t chunks_;
};

struct ReadBandwidth {
  std::array<double, kReadStreams.size()> gbps{};  // best GB/s (1e9 bytes) per entry of kReadStreams
  int repetitions = 0;                              // timed repetitions of each stream count
  double best() const;
};

// Reads `buffer` with the pool's threads for about `seconds`; the buffer is split into one
// contiguous share per thread, each read as kReadStreams[i] concurrent streams.
ReadBandwidth measure_read_bandwidth(ThreadPool& pool, const ReadBuffer& buffer, double seconds = 1.0);

// The roofline's figure: the best over stream counts, of a fresh kReadBufferBytes buffer.
double measure_read_bandwidth(ThreadPool& pool);

}  // namespace lumen
