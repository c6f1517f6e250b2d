#pragma once
// A GGUF (version 2 or 3) file, parsed from a memory map. Every count, length and offset is
// checked against the file's size before it is used, so a truncated or hostile file gives a
// one-line lumen::Error, never a crash or a huge allocation. Metadata values stay encoded in
// the map and are decoded by the typed getters; tensors are views into the map.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tensor/mapped_file.h"
#include "tensor/tensor.h"

namespace lumen {

// GGUF metadata value types, numbered as the file stores them.
enum class GgufType : uint32_t {
  U8 = 0,
  I8 = 1,
  U16 = 2,
  I16 = 3,
  U32 = 4,
  I32 = 5,
  F32 = 6,
  Bool = 7,
  String = 8,
  Array = 9,
  U64 = 10,
  I64 = 11,
  F64 = 12,
};

std::string_view gguf_type_name(GgufType t);  // "u32", "string", "array", ...

// One metadata value, still encoded. For an array, `elem_type` and `count` describe the
// elements and `bytes` holds them back to back; otherwise `bytes` is the value itself.
struct GgufValue {
  GgufType type = GgufType::U8;
  GgufType elem_type = GgufType::U8;
  uint64_t count = 0;
  std::span<const uint8_t> bytes;
};

// A short rendering for listings: "u32 4096", "string 'llama'", "array of 32000 string".
std::string describe(const GgufValue& v);

class GgufFile {
 public:
  static constexpr uint32_t kDefaultAlignment = 32;

  explicit GgufFile(std::shared_ptr<const MappedFile> file);

  uint32_t version() const { return version_; }
  size_t alignment() const { return alignment_; }
  size_t data_offset() const { return data_offset_; }
  const std::shared_ptr<const MappedFile>& file() const { return file_; }

  struct KeyValue {
    std::string key;
    GgufValue value;
  };
  const std::vector<KeyValue>& metadata() const { return metadata_; }  // in file order
  const GgufValue* find(std::string_view key) const;                   // nullptr if absent

  // Typed getters. Integers convert between widths when the value fits; f32 also reads f64.
  // A missing key, a wrong type or a value out of range fails with a message naming the key.
  uint32_t get_u32(std::string_view key) const { return get<uint32_t>(key); }
  int32_t get_i32(std::string_view key) const { return get<int32_t>(key); }
  uint64_t get_u64(std::string_view key) const { return get<uint64_t>(key); }
  float get_f32(std::string_view key) const { return get<float>(key); }
  bool get_bool(std::string_view key) const { return get<bool>(key); }
  std::string get_string(std::string_view key) const { return get<std::string>(key); }
  std::vector<std::string> get_string_array(std::string_view key) const { return get<std::vector<std::string>>(key); }
  std::vector<float> get_f32_array(std::string_view key) const { return get<std::vector<float>>(key); }
  std::vector<int32_t> get_i32_array(std::string_view key) const { return get<std::vector<int32_t>>(key); }

  // The same, but an absent key gives std::nullopt (a present key of the wrong type still fails).
  std::optional<uint32_t> opt_u32(std::string_view key) const { return opt<uint32_t>(key); }
  std::optional<int32_t> opt_i32(std::string_view key) const { return opt<int32_t>(key); }
  std::optional<uint64_t> opt_u64(std::string_view key) const { return opt<uint64_t>(key); }
  std::optional<float> opt_f32(std::string_view key) const { return opt<float>(key); }
  std::optional<bool> opt_bool(std::string_view key) const { return opt<bool>(key); }
  std::optional<std::string> opt_string(std::string_view key) const { return opt<std::string>(key); }
  std::optional<std::vector<std::string>> opt_string_array(std::string_view key) const {
    return opt<std::vector<std::string>>(key);
  }
  std::optional<std::vector<float>> opt_f32_array(std::string_view key) const { return opt<std::vector<float>>(key); }
  std::optional<std::vector<int32_t>> opt_i32_array(std::string_view key) const {
    return opt<std::vector<int32_t>>(key);
  }

  // Views of every tensor's data in the map, in file order.
  const std::vector<Tensor>& tensors() const { return tensors_; }
  const Tensor* find_tensor(std::string_view name) const;  // nullptr if absent

 private:
  template <typename T>
  T get(std::string_view key) const;
  template <typename T>
  std::optional<T> opt(std::string_view key) const;

  void parse();

  std::shared_ptr<const MappedFile> file_;
  uint32_t version_ = 0;
  size_t alignment_ = kDefaultAlignment;
  size_t data_offset_ = 0;
  std::vector<KeyValue> metadata_;
  std::map<std::string, size_t, std::less<>> metadata_index_;
  std::vector<Tensor> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace lumen
