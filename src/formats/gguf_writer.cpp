#include "formats/gguf_writer.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "util/error.h"

namespace lumen {
namespace {

constexpr uint32_t kVersion = 3;

// An output file that fails with the path and the system's reason on any error.
class OutputFile {
 public:
  explicit OutputFile(std::string path) : path_(std::move(path)), f_(std::fopen(path_.c_str(), "wb")) {
    if (!f_) fail("cannot create ", path_, ": ", std::strerror(errno));
  }
  ~OutputFile() {
    if (f_) std::fclose(f_);
  }
  void write(std::span<const uint8_t> b) {
    if (!b.empty() && std::fwrite(b.data(), 1, b.size(), f_) != b.size())
      fail("cannot write ", path_, ": ", std::strerror(errno));
  }
  void close() {
    std::FILE* f = std::exchange(f_, nullptr);
    if (std::fflush(f) != 0 || ::fsync(fileno(f)) != 0) {
      const int err = errno;
      std::fclose(f);
      fail("cannot write ", path_, ": ", std::strerror(err));
    }
    if (std::fclose(f) != 0) fail("cannot write ", path_, ": ", std::strerror(errno));
  }

 private:
  std::string path_;
  std::FILE* f_;
};

}  // namespace

void GgufWriter::begin_key(std::string_view key, GgufType type) {
  if (!keys_.emplace(key).second) fail("GGUF metadata key '", key, "' added twice");
  metadata_.put_string(key);
  metadata_.put_type(type);
  ++n_kv_;
}

void GgufWriter::add_string(std::string_view key, std::string_view v) {
  begin_key(key, GgufType::String);
  metadata_.put_string(v);
}

void GgufWriter::add_string_array(std::string_view key, const std::vector<std::string>& v) {
  begin_key(key, GgufType::Array);
  metadata_.put_type(GgufType::String);
  metadata_.put(uint64_t(v.size()));
  for (const auto& s : v) metadata_.put_string(s);
}

void GgufWriter::add_f32_array(std::string_view key, std::span<const float> v) {
  begin_key(key, GgufType::Array);
  metadata_.put_type(GgufType::F32);
  metadata_.put(uint64_t(v.size()));
  for (float x : v) metadata_.put(x);
}

void GgufWriter::add_i32_array(std::string_view key, std::span<const int32_t> v) {
  begin_key(key, GgufType::Array);
  metadata_.put_type(GgufType::I32);
  metadata_.put(uint64_t(v.size()));
  for (int32_t x : v) metadata_.put(x);
}

void GgufWriter::add_value(std::string_view key, const GgufValue& v) {
  begin_key(key, v.type);
  if (v.type == GgufType::Array) {
    metadata_.put_type(v.elem_type);
    metadata_.put(v.count);
  }
  metadata_.put_bytes(v.bytes);
}

void GgufWriter::add_tensor(std::string name, DType type, std::vector<int64_t> shape, std::span<const uint8_t> data) {
  for (const auto& t : tensors_)
    if (t.name == name) fail("tensor '", name, "' added twice");
  if (shape.empty() || shape.size() > 4) fail("tensor '", name, "' has ", shape.size(), " dimensions (1 to 4 supported)");
  const Tensor view{name, type, shape, data.data()};
  if (view.bytes() != data.size())
    fail("tensor '", name, "' has ", data.size(), " bytes but ", dtype_name(type), " ", shape_string(shape), " needs ",
         view.bytes());
  tensors_.push_back({std::move(name), type, std::move(shape), data, {}});
}

void GgufWriter::add_tensor(std::string name, DType type, std::vector<int64_t> shape, std::vector<uint8_t> data) {
  add_tensor(std::move(name), type, std::move(shape), std::span<const uint8_t>(data));
  tensors_.back().borrowed = {};
  tensors_.back().owned = std::move(data);
}

void GgufWriter::write(const std::string& path) const {
  GgufEncoder head;
  head.put_bytes({reinterpret_cast<const uint8_t*>("GGUF"), 4});
  head.put(kVersion);
  head.put(uint64_t(tensors_.size()));
  head.put(n_kv_);
  head.put_bytes(metadata_.bytes());
  uint64_t offset = 0;  // of each tensor within the data section
  for (const auto& t : tensors_) {
    head.put_string(t.name);
    head.put(uint32_t(t.shape.size()));
    for (int64_t d : t.shape) head.put(uint64_t(d));
    head.put(uint32_t(t.type));
    head.put(offset);
    offset = (offset + t.bytes().size() + kAlignment - 1) / kAlignment * kAlignment;
  }
  head.pad_to(kAlignment);

  const std::string temp = path + ".tmp";
  try {
    OutputFile out(temp);
    out.write(head.bytes());
    static constexpr uint8_t kZeros[kAlignment] = {};
    for (const auto& t : tensors_) {
      out.write(t.bytes());
      out.write({kZeros, (kAlignment - t.bytes().size() % kAlignment) % kAlignment});
    }
    out.close();
  } catch (const Error&) {
    std::remove(temp.c_str());
    throw;
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(temp.c_str());
    fail("cannot write ", path, ": ", std::strerror(err));
  }
}

}  // namespace lumen
