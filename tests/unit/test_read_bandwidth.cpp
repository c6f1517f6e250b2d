// The bandwidth probe's own mechanics; the figures it reports are the machine's and are shown by
// bench/bench_bandwidth, not checked here.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdint>

#include "runtime/read_bandwidth.h"
#include "util/error.h"

namespace lumen {
namespace {

constexpr size_t kMiB = size_t(1) << 20;

TEST(ReadBuffer, IsHugePageAlignedAndEveryPageIsWrittenBeforeTiming) {
  // An unwritten anonymous page reads as the kernel's shared zero page, which stays in the cache
  // and would make the probe report cache bandwidth.
  ThreadPool pool(2);
  const ReadBuffer buffer(pool, 6 * kMiB + 96);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(buffer.data()) % (2 * kMiB), 0u);
  ASSERT_EQ(buffer.chunks(), (6 * kMiB + 96) / sizeof(Chunk));
  const size_t page_chunks = 4096 / sizeof(Chunk);
  for (size_t c = 0; c < buffer.chunks(); c += page_chunks) ASSERT_EQ(buffer.data()[c][0], c) << "chunk " << c;
  EXPECT_EQ(buffer.data()[buffer.chunks() - 1][0], buffer.chunks() - 1);
}

TEST(ReadBandwidth, MeasuresEveryStreamCountForAtLeastTheRequestedTime) {
  ThreadPool pool(2);
  const ReadBuffer buffer(pool, 32 * kMiB);
  const auto t0 = std::chrono::steady_clock::now();
  const ReadBandwidth r = measure_read_bandwidth(pool, buffer, 0.2);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(seconds, 0.2);
  EXPECT_GE(r.repetitions, 3);
  double best = 0;
  for (size_t k = 0; k < kReadStreams.size(); ++k) {
    EXPECT_TRUE(std::isfinite(r.gbps[k]) && r.gbps[k] > 0) << kReadStreams[k] << " streams: " << r.gbps[k];
    best = std::max(best, r.gbps[k]);
  }
  EXPECT_EQ(r.best(), best);
}

TEST(ReadBandwidth, RefusesABufferTooSmallForItsStreams) {
  // 16 streams per thread need 16 skewed segments in each thread's share.
  ThreadPool pool(2);
  const ReadBuffer buffer(pool, 64 * 1024);
  EXPECT_THROW(measure_read_bandwidth(pool, buffer, 0.01), Error);
}

}  // namespace
}  // namespace lumen
