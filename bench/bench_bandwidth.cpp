// The memory read-bandwidth probe of the roofline (runtime/read_bandwidth.h) on its own, run
// several times in a row to show how stable it is: per run, the best GB/s for each count of
// concurrent streams per thread, the best of them (the figure `lumen bench` uses), the time the
// whole probe took (buffer included) and the load average when it started.
//
// Usage: bench_bandwidth [--threads N]... [--runs R] [--mib M] [--no-huge-pages]
//        (defaults: the machine's hardware threads, 5 runs, the probe's buffer size)
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/roofline.h"

using namespace lumen;

namespace {

struct Options {
  std::vector<int> threads;
  int runs = 5;
  size_t bytes = kReadBufferBytes;
  bool huge_pages = true;
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : "";
    if (a == "--no-huge-pages") {
      o.huge_pages = false;
      continue;
    }
    if (a == "--threads" && std::atoi(v) > 0) {
      o.threads.push_back(std::atoi(v));
    } else if (a == "--runs" && std::atoi(v) > 0) {
      o.runs = std::atoi(v);
    } else if (a == "--mib" && std::atoi(v) >= 16) {
      o.bytes = size_t(std::atoi(v)) << 20;
    } else {
      std::fprintf(stderr, "usage: %s [--threads N]... [--runs R] [--mib M>=16] [--no-huge-pages]\n", argv[0]);
      std::exit(2);
    }
    ++i;
  }
  if (o.threads.empty()) o.threads = {int(std::max(1u, std::thread::hardware_concurrency()))};
  return o;
}

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one;
  in >> one;
  return in ? one : "?";
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse(argc, argv);
  std::printf("machine %s, %u hardware threads; buffer %zu MiB, %s\n", cpu_model().c_str(),
              std::thread::hardware_concurrency(), opt.bytes >> 20,
              opt.huge_pages ? "transparent huge pages requested" : "4 KiB pages");
  std::printf("threads  run  load");
  for (int streams : kReadStreams) std::printf("  %2d stream%s", streams, streams == 1 ? " " : "s");
  std::printf("    best  reps  seconds  (GB/s, concurrent streams per thread)\n");
  for (int nth : opt.threads) {
    ThreadPool pool(nth);
    for (int run = 1; run <= opt.runs; ++run) {
      const std::string load = load_average();
      const auto t0 = std::chrono::steady_clock::now();
      const ReadBuffer buffer(pool, opt.bytes, opt.huge_pages);
      const ReadBandwidth bw = measure_read_bandwidth(pool, buffer);
      const double seconds = seconds_since(t0);
      std::printf("%7d  %3d  %4s", nth, run, load.c_str());
      for (double gbps : bw.gbps) std::printf("  %10.1f", gbps);
      std::printf("  %6.1f  %4d  %7.2f\n", bw.best(), bw.repetitions, seconds);
    }
  }
}
