#include "tensor/huge_page_memory.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "util/error.h"

namespace lumen {

constexpr size_t kHugePage = size_t(2) << 20;

HugePageMemory::HugePageMemory(size_t bytes, bool huge_pages) : size_(bytes) {
  if (bytes == 0) return;
  // Over-allocate by one huge page so that the data can start on a 2 MiB boundary: a huge page
  // can only back an aligned 2 MiB range.
  mapping_bytes_ = (bytes + kHugePage - 1) / kHugePage * kHugePage + kHugePage;
  mapping_ = ::mmap(nullptr, mapping_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapping_ == MAP_FAILED) {
    mapping_ = nullptr;
    fail("cannot allocate ", bytes, " bytes of memory: ", std::strerror(errno));
  }
  const auto start = (reinterpret_cast<uintptr_t>(mapping_) + kHugePage - 1) / kHugePage * kHugePage;
  data_ = reinterpret_cast<uint8_t*>(start);
  // Advice only: without huge pages the memory is slower to stream, not wrong.
  ::madvise(data_, bytes, huge_pages ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
}

HugePageMemory::~HugePageMemory() {
  if (mapping_) ::munmap(mapping_, mapping_bytes_);
}

}  // namespace lumen
