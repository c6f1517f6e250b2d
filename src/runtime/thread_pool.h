#pragma once
// A persistent pool of worker threads for the forward pass. A decode step issues dozens of
// short parallel sections, so a waiting thread (worker waiting for work, caller waiting for the
// workers) first spins, then yields its core, and only then sleeps in the kernel; the caller
// takes part as thread 0 instead of waiting idle.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace lumen {

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(thread_index, n_threads) once on every thread and returns when all are done; the
  // writes of every call are visible to the caller afterwards. Not reentrant: one run at a time.
  template <typename Fn>
  void run(Fn&& fn) {
    run_erased(&fn, [](void* f, int i, int n) { (*static_cast<std::remove_reference_t<Fn>*>(f))(i, n); });
  }

 private:
  using Call = void (*)(void*, int, int);
  void run_erased(void* ctx, Call call);
  void worker_loop(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  // 32-bit counters: std::atomic wait/notify maps them straight onto a futex.
  std::atomic<uint32_t> generation_{0};  // bumped once per run; workers wait for a change
  std::atomic<int32_t> pending_{0};      // workers still inside the current run
  std::atomic<bool> stop_{false};
  void* ctx_ = nullptr;
  Call call_ = nullptr;
};

// The contiguous share [begin, end) of n items that thread i of nth takes.
inline std::pair<int64_t, int64_t> split_range(int64_t n, int i, int nth) {
  const int64_t base = n / nth, extra = n % nth;
  const int64_t begin = i * base + std::min<int64_t>(i, extra);
  return {begin, begin + base + (i < extra ? 1 : 0)};
}

}  // namespace lumen
