#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "runtime/thread_pool.h"
#include "util/error.h"

namespace lumen {
namespace {

TEST(ThreadPool, EveryIndexRunsExactlyOncePerRun) {
  for (int n : {1, 2, 3, 5}) {
    ThreadPool pool(n);
    std::vector<std::atomic<int>> calls(n);
    std::atomic<int> wrong_count{0};
    constexpr int kRuns = 2000;  // consecutive runs: a late worker would see the next generation
    for (int run = 0; run < kRuns; ++run) {
      pool.run([&](int i, int nth) {
        if (nth != n) wrong_count.fetch_add(1);
        calls[i].fetch_add(1);
      });
      // run() returns only after every thread is done, so the counts are exact here.
      for (int i = 0; i < n; ++i) ASSERT_EQ(calls[i].load(), run + 1) << "threads " << n << " index " << i;
    }
    EXPECT_EQ(wrong_count.load(), 0);
  }
}

TEST(ThreadPool, PoolOfOneRunsOnTheCaller) {
  ThreadPool pool(1);
  const auto caller = std::this_thread::get_id();
  std::thread::id ran;
  pool.run([&](int i, int nth) {
    EXPECT_EQ(i, 0);
    EXPECT_EQ(nth, 1);
    ran = std::this_thread::get_id();
  });
  EXPECT_EQ(ran, caller);
}

TEST(ThreadPool, WritesOfEveryThreadAreVisibleAfterRun) {
  ThreadPool pool(3);
  std::vector<int64_t> data(1000);
  for (int run = 1; run <= 100; ++run) {
    pool.run([&](int i, int nth) {
      auto [b, e] = split_range(int64_t(data.size()), i, nth);
      for (int64_t k = b; k < e; ++k) data[k] += k;  // plain writes, ordered by the pool
    });
    for (size_t k = 0; k < data.size(); k += 97) ASSERT_EQ(data[k], int64_t(k) * run);
  }
}

TEST(ThreadPool, RejectsBadThreadCounts) {
  EXPECT_THROW(ThreadPool(0), Error);
  EXPECT_THROW(ThreadPool(-3), Error);
}

TEST(SplitRange, CoversEveryItemOnceInOrder) {
  for (int64_t n : {0, 1, 7, 64, 1001})
    for (int nth : {1, 2, 3, 8}) {
      int64_t next = 0;
      for (int i = 0; i < nth; ++i) {
        auto [b, e] = split_range(n, i, nth);
        EXPECT_EQ(b, next);
        EXPECT_GE(e, b);
        EXPECT_LE(e - b, n / nth + 1);  // balanced within one item
        next = e;
      }
      EXPECT_EQ(next, n);
    }
}

}  // namespace
}  // namespace lumen
