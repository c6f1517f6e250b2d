#pragma once
// Anonymous memory aligned to 2 MiB with transparent huge pages requested: for weights made at
// load (repacked matrices) and the bandwidth probe's buffer. On a kernel that gives huge pages
// only on request (transparent_hugepage=madvise), 4 KiB pages cost streaming reads up to a
// quarter of their bandwidth here (docs/PERF.md, the read-bandwidth probe); a std::vector would
// get them.
#include <cstddef>
#include <cstdint>

namespace lumen {

class HugePageMemory {
 public:
  // huge_pages = false asks for 4 KiB pages instead (to measure what huge pages are worth).
  explicit HugePageMemory(size_t bytes, bool huge_pages = true);  // throws lumen::Error
  ~HugePageMemory();
  HugePageMemory(const HugePageMemory&) = delete;
  HugePageMemory& operator=(const HugePageMemory&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void* mapping_ = nullptr;
  size_t mapping_bytes_ = 0;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace lumen
