#include "runtime/read_bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <vector>

#include "util/error.h"

namespace lumen {
namespace {

constexpr size_t kLineChunks = 64 / sizeof(Chunk);  // one cache line
// Stream s of a thread starts s x (segment + skew) into its share: 65 lines puts each stream in
// other cache sets than its neighbours even when segments are 2^k bytes long.
constexpr size_t kSkewChunks = 65 * kLineChunks;
// A repetition reads the buffer as many times as it takes to last this long, so that the timer
// and the pool's wake-up stay negligible (a pass of kReadBufferBytes takes ~4 ms at 64 GB/s, and
// less on bigger machines); kept short so that a repetition another process interrupts is one
// of many.
constexpr double kMinRepetitionSeconds = 0.01;
constexpr int kMinRounds = 3;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// XOR-reduces S streams of `segment` chunks, the stream s starting s x (segment + kSkewChunks)
// chunks from p, one cache line of each stream per step.
template <int S>
uint64_t read_streams(const Chunk* p, size_t segment) {
  Chunk acc[S] = {};
  for (size_t i = 0; i < segment; i += kLineChunks)
    for (int s = 0; s < S; ++s) {
      const Chunk* line = p + s * (segment + kSkewChunks) + i;
      acc[s] ^= line[0] ^ line[1];
    }
  Chunk all = {};
  for (int s = 0; s < S; ++s) all ^= acc[s];
  return all[0] ^ all[1] ^ all[2] ^ all[3];
}

uint64_t read_streams(int streams, const Chunk* p, size_t segment) {
  switch (streams) {
    case 1: return read_streams<1>(p, segment);
    case 2: return read_streams<2>(p, segment);
    case 4: return read_streams<4>(p, segment);
    case 8: return read_streams<8>(p, segment);
    default: return read_streams<16>(p, segment);
  }
}

// Each thread's share of the buffer and the segment length of its streams, in chunks.
struct Split {
  size_t share, segment;
};

Split split(const ReadBuffer& buffer, int threads, int streams) {
  const size_t share = buffer.chunks() / size_t(threads) / kLineChunks * kLineChunks;
  const size_t segment = (share - size_t(streams - 1) * kSkewChunks) / size_t(streams) / kLineChunks * kLineChunks;
  return {share, segment};
}

struct Timing {
  double seconds, bytes;
};

// Every thread reads its share `passes` times as `streams` streams.
Timing timed_read(ThreadPool& pool, const ReadBuffer& buffer, int streams, int passes, std::vector<uint64_t>& sink) {
  const Split sp = split(buffer, pool.size(), streams);
  const auto t0 = std::chrono::steady_clock::now();
  pool.run([&](int i, int) {
    for (int pass = 0; pass < passes; ++pass) sink[i] ^= read_streams(streams, buffer.data() + i * sp.share, sp.segment);
  });
  return {seconds_since(t0), double(sp.segment) * streams * pool.size() * passes * sizeof(Chunk)};
}

}  // namespace

ReadBuffer::ReadBuffer(ThreadPool& pool, size_t bytes, bool huge_pages)
    : memory_(bytes, huge_pages), data_(reinterpret_cast<Chunk*>(memory_.data())), chunks_(bytes / sizeof(Chunk)) {
  pool.run([&](int i, int nth) {
    const auto [begin, end] = split_range(int64_t(chunks_), i, nth);
    for (int64_t c = begin; c < end; ++c) data_[c] = Chunk{uint64_t(c), 1, 2, 3};
  });
}

double ReadBandwidth::best() const { return *std::max_element(gbps.begin(), gbps.end()); }

ReadBandwidth measure_read_bandwidth(ThreadPool& pool, const ReadBuffer& buffer, double seconds) {
  const size_t share = buffer.chunks() / size_t(pool.size());
  if (share < size_t(kReadStreams.back()) * (kSkewChunks + kLineChunks))
    fail("a bandwidth probe buffer of ", buffer.chunks() * sizeof(Chunk), " bytes is too small for ", pool.size(),
         " threads of ", kReadStreams.back(), " streams");
  std::vector<uint64_t> sink(pool.size());
  // Warm-up: wakes the threads and fills the TLBs; its time sizes the repetitions.
  const double pass = timed_read(pool, buffer, 1, 1, sink).seconds;
  const int passes = int(std::clamp(std::ceil(kMinRepetitionSeconds / pass), 1.0, 64.0));

  ReadBandwidth r;
  const auto t0 = std::chrono::steady_clock::now();
  while (r.repetitions < kMinRounds || seconds_since(t0) < seconds) {
    for (size_t k = 0; k < kReadStreams.size(); ++k) {
      const Timing t = timed_read(pool, buffer, kReadStreams[k], passes, sink);
      r.gbps[k] = std::max(r.gbps[k], t.bytes / t.seconds / 1e9);
    }
    ++r.repetitions;
  }
  // The sums are consumed so that the reads cannot be optimised away.
  if (std::find(sink.begin(), sink.end(), 0x5eed) != sink.end()) r.gbps[0] += 1e-12;
  return r;
}

double measure_read_bandwidth(ThreadPool& pool) {
  const ReadBuffer buffer(pool);
  return measure_read_bandwidth(pool, buffer).best();
}

}  // namespace lumen
