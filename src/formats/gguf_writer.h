#pragma once
// Writes GGUF version 3 files: metadata, then tensor infos, then tensor data aligned to 32
// bytes, as llama.cpp reads them.
#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "formats/gguf.h"
#include "tensor/dtype.h"

namespace lumen {

// Appends GGUF's little-endian encodings to a byte buffer. The writer is built on it, and
// tests use it to build deliberately malformed files.
class GgufEncoder {
 public:
  template <typename T>
  void put(T v) {
    static_assert(std::is_arithmetic_v<T>);
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }
  void put_type(GgufType t) { put(uint32_t(t)); }
  void put_string(std::string_view s) {
    put(uint64_t(s.size()));
    bytes_.insert(bytes_.end(), s.begin(), s.end());
  }
  // Inserts through pointers, as put() does: with the span's iterators GCC 12 at -O3 reports a false
  // -Wstringop-overflow inside vector::insert (GCC PR 106199) where a test starts an encoder with it.
  void put_bytes(std::span<const uint8_t> b) { bytes_.insert(bytes_.end(), b.data(), b.data() + b.size()); }
  void pad_to(size_t alignment) { bytes_.resize((bytes_.size() + alignment - 1) / alignment * alignment); }

  const std::vector<uint8_t>& bytes() const { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

class GgufWriter {
 public:
  static constexpr size_t kAlignment = 32;

  // Metadata, written in the order added. A key may be added once.
  void add_u8(std::string_view key, uint8_t v) { add_scalar(key, GgufType::U8, v); }
  void add_i8(std::string_view key, int8_t v) { add_scalar(key, GgufType::I8, v); }
  void add_u16(std::string_view key, uint16_t v) { add_scalar(key, GgufType::U16, v); }
  void add_i16(std::string_view key, int16_t v) { add_scalar(key, GgufType::I16, v); }
  void add_u32(std::string_view key, uint32_t v) { add_scalar(key, GgufType::U32, v); }
  void add_i32(std::string_view key, int32_t v) { add_scalar(key, GgufType::I32, v); }
  void add_u64(std::string_view key, uint64_t v) { add_scalar(key, GgufType::U64, v); }
  void add_i64(std::string_view key, int64_t v) { add_scalar(key, GgufType::I64, v); }
  void add_f32(std::string_view key, float v) { add_scalar(key, GgufType::F32, v); }
  void add_f64(std::string_view key, double v) { add_scalar(key, GgufType::F64, v); }
  void add_bool(std::string_view key, bool v) { add_scalar(key, GgufType::Bool, uint8_t(v)); }
  void add_string(std::string_view key, std::string_view v);
  void add_string_array(std::string_view key, const std::vector<std::string>& v);
  void add_f32_array(std::string_view key, std::span<const float> v);
  void add_i32_array(std::string_view key, std::span<const int32_t> v);
  // A value read from another GGUF, copied as it is encoded (quantize carries metadata over).
  void add_value(std::string_view key, const GgufValue& v);

  // A tensor whose bytes the caller keeps alive until write() returns. The byte count must
  // match the type and shape (ggml order: shape[0] is the row length).
  void add_tensor(std::string name, DType type, std::vector<int64_t> shape, std::span<const uint8_t> data);
  // The same, for bytes made during conversion: the writer keeps them.
  void add_tensor(std::string name, DType type, std::vector<int64_t> shape, std::vector<uint8_t> data);

  // Writes the file through a temporary next to `path`, renamed into place only once it is
  // complete, so a failed write never leaves a partial file under the final name.
  void write(const std::string& path) const;

 private:
  struct PendingTensor {
    std::string name;
    DType type;
    std::vector<int64_t> shape;
    std::span<const uint8_t> borrowed;
    std::vector<uint8_t> owned;  // used instead of `borrowed` when the writer keeps the bytes
    std::span<const uint8_t> bytes() const { return owned.empty() ? borrowed : std::span<const uint8_t>(owned); }
  };

  void begin_key(std::string_view key, GgufType type);
  template <typename T>
  void add_scalar(std::string_view key, GgufType type, T v) {
    begin_key(key, type);
    metadata_.put(v);
  }

  GgufEncoder metadata_;
  uint64_t n_kv_ = 0;
  std::set<std::string, std::less<>> keys_;
  std::vector<PendingTensor> tensors_;
};

}  // namespace lumen
