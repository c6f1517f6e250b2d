#pragma once
// A read-only memory map of a whole file. Model weights are used in place from the map, so a
// model costs page cache, not a second copy in the heap.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace lumen {

class MappedFile {
 public:
  explicit MappedFile(const std::string& path);  // throws lumen::Error naming the path
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const std::string& path() const { return path_; }
  bool contains(const void* p) const { return p >= data_ && p < data_ + size_; }

  // Drops the pages that lie wholly inside [p, p + n) from this process's memory, for weights
  // that were copied elsewhere (repacked): they stop counting towards its resident size, and
  // are read from the file again if touched.
  void release(const void* p, size_t n) const;

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace lumen
