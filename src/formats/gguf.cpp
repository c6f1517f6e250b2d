#include "formats/gguf.h"

#include <cstring>
#include <limits>
#include <sstream>
#include <type_traits>
#include <utility>

#include "util/error.h"

namespace lumen {
namespace {

// Deeper nesting than this is refused rather than recursed into: a crafted file could
// otherwise exhaust the stack with a chain of array headers.
constexpr int kMaxArrayDepth = 8;
constexpr size_t kMaxDims = 4;
// The fewest bytes one metadata entry (key length, type, 1-byte value) and one tensor info
// (name length, n_dims, type, offset) can take: a count larger than the bytes left can hold
// is an error before any loop or allocation trusts it.
constexpr size_t kMinKeyValueBytes = 8 + 4 + 1;
constexpr size_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;

// Bytes of one value of a fixed-size type; 0 for strings and arrays.
size_t fixed_size(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::Bool: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    case GgufType::String: case GgufType::Array: return 0;
  }
  return 0;
}

bool is_integer(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16:
    case GgufType::U32: case GgufType::I32: case GgufType::U64: case GgufType::I64: return true;
    default: return false;
  }
}

// Reads little-endian values from a byte range, checking each read against the end first.
// `what` names the thing being read, for the error message.
class Cursor {
 public:
  explicit Cursor(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  size_t pos() const { return pos_; }
  size_t remaining() const { return bytes_.size() - pos_; }
  std::span<const uint8_t> since(size_t from) const { return bytes_.subspan(from, pos_ - from); }

  std::span<const uint8_t> take(size_t n, std::string_view what) {
    if (n > remaining())
      fail("truncated: ", what, " needs ", n, " bytes at offset ", pos_, " but only ", remaining(), " remain");
    auto s = bytes_.subspan(pos_, n);
    pos_ += n;
    return s;
  }

  template <typename T>
  T read(std::string_view what) {
    T v;
    std::memcpy(&v, take(sizeof(T), what).data(), sizeof(T));
    return v;
  }

  std::string_view read_string(std::string_view what) {
    const auto s = take(read<uint64_t>(what), what);
    return {reinterpret_cast<const char*>(s.data()), s.size()};
  }

  // A count of items, each at least `min_bytes` long, that must fit in the bytes left.
  uint64_t read_count(std::string_view what, size_t min_bytes) {
    const uint64_t n = read<uint64_t>(what);
    if (n > remaining() / min_bytes)
      fail(what, " claims ", n, " entries but only ", remaining(), " bytes remain");
    return n;
  }

  GgufType read_type(std::string_view what) {
    const uint32_t id = read<uint32_t>(what);
    if (id > uint32_t(GgufType::F64)) fail(what, " has unknown value type ", id);
    return GgufType(id);
  }

 private:
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

// Reads (and so validates) one value of type `type`, leaving the cursor after it.
GgufValue read_value(Cursor& c, GgufType type, const std::string& what, int depth) {
  GgufValue v{type, GgufType::U8, 0, {}};
  if (type != GgufType::Array) {
    const size_t start = c.pos();
    if (type == GgufType::String) {
      c.read_string(what);
    } else {
      c.take(fixed_size(type), what);
    }
    v.bytes = c.since(start);
    return v;
  }
  if (depth >= kMaxArrayDepth) fail(what, " nests arrays more than ", kMaxArrayDepth, " deep");
  v.elem_type = c.read_type(what);
  const size_t elem = fixed_size(v.elem_type);
  // A string element is at least its 8-byte length, an array at least its type and count.
  v.count = c.read_count(what, elem ? elem : v.elem_type == GgufType::String ? 8 : 12);
  const size_t first = c.pos();
  if (elem) {
    c.take(v.count * elem, what);  // cannot overflow: read_count bounded count by the bytes left
  } else {
    for (uint64_t i = 0; i < v.count; ++i) read_value(c, v.elem_type, what, depth + 1);
  }
  v.bytes = c.since(first);
  return v;
}

// --- decoding values for the typed getters ---

template <typename T>
struct is_vector : std::false_type {};
template <typename T>
struct is_vector<std::vector<T>> : std::true_type {};

template <typename T>
constexpr std::string_view label() {
  if constexpr (std::is_same_v<T, std::string>) return "string";
  else if constexpr (std::is_same_v<T, bool>) return "bool";
  else if constexpr (std::is_same_v<T, float>) return "f32";
  else if constexpr (std::is_same_v<T, uint32_t>) return "u32";
  else if constexpr (std::is_same_v<T, int32_t>) return "i32";
  else if constexpr (std::is_same_v<T, uint64_t>) return "u64";
  else if constexpr (std::is_same_v<T, int64_t>) return "i64";
  else if constexpr (std::is_same_v<T, double>) return "f64";
  else static_assert(!sizeof(T), "no GGUF getter for this type");
}

template <typename T>
bool accepts(GgufType t) {
  if constexpr (std::is_same_v<T, std::string>) return t == GgufType::String;
  else if constexpr (std::is_same_v<T, bool>) return t == GgufType::Bool;
  else if constexpr (std::is_floating_point_v<T>) return t == GgufType::F32 || t == GgufType::F64;
  else return is_integer(t);
}

template <typename T, typename Raw>
T narrow(Raw raw, std::string_view key) {
  if constexpr (std::is_floating_point_v<T>) {
    return T(raw);
  } else {
    if (!std::in_range<T>(raw)) fail("GGUF metadata key '", key, "' value ", raw, " does not fit ", label<T>());
    return T(raw);
  }
}

// Reads one value of type `t` (already known to be accepted for T) as a T.
template <typename T>
T read_as(Cursor& c, GgufType t, std::string_view key) {
  if constexpr (std::is_same_v<T, std::string>) {
    return std::string(c.read_string(key));
  } else if constexpr (std::is_same_v<T, bool>) {
    return c.read<uint8_t>(key) != 0;
  } else {
    switch (t) {
      case GgufType::U8: return narrow<T>(c.read<uint8_t>(key), key);
      case GgufType::I8: return narrow<T>(c.read<int8_t>(key), key);
      case GgufType::U16: return narrow<T>(c.read<uint16_t>(key), key);
      case GgufType::I16: return narrow<T>(c.read<int16_t>(key), key);
      case GgufType::U32: return narrow<T>(c.read<uint32_t>(key), key);
      case GgufType::I32: return narrow<T>(c.read<int32_t>(key), key);
      case GgufType::U64: return narrow<T>(c.read<uint64_t>(key), key);
      case GgufType::I64: return narrow<T>(c.read<int64_t>(key), key);
      case GgufType::F32: return T(c.read<float>(key));
      case GgufType::F64: return T(c.read<double>(key));
      default: fail("GGUF metadata key '", key, "' cannot be read as ", label<T>());
    }
  }
}

template <typename T>
T decode(std::string_view key, const GgufValue& v) {
  Cursor c(v.bytes);
  if constexpr (is_vector<T>::value) {
    using Elem = typename T::value_type;
    if (v.type != GgufType::Array || !accepts<Elem>(v.elem_type))
      fail("GGUF metadata key '", key, "' is ", describe(v), ", expected an array of ", label<Elem>());
    T out;
    out.reserve(v.count);  // bounded by the file size at parse time
    for (uint64_t i = 0; i < v.count; ++i) out.push_back(read_as<Elem>(c, v.elem_type, key));
    return out;
  } else {
    if (!accepts<T>(v.type)) fail("GGUF metadata key '", key, "' is ", describe(v), ", expected ", label<T>());
    return read_as<T>(c, v.type, key);
  }
}

}  // namespace

std::string_view gguf_type_name(GgufType t) {
  switch (t) {
    case GgufType::U8: return "u8";
    case GgufType::I8: return "i8";
    case GgufType::U16: return "u16";
    case GgufType::I16: return "i16";
    case GgufType::U32: return "u32";
    case GgufType::I32: return "i32";
    case GgufType::F32: return "f32";
    case GgufType::Bool: return "bool";
    case GgufType::String: return "string";
    case GgufType::Array: return "array";
    case GgufType::U64: return "u64";
    case GgufType::I64: return "i64";
    case GgufType::F64: return "f64";
  }
  return "unknown";
}

std::string describe(const GgufValue& v) {
  std::ostringstream os;
  if (v.type == GgufType::Array) {
    os << "array of " << v.count << ' ' << gguf_type_name(v.elem_type);
    return os.str();
  }
  os << gguf_type_name(v.type) << ' ';
  Cursor c(v.bytes);
  const std::string_view what = "value";
  switch (v.type) {
    case GgufType::String: {
      constexpr size_t kShown = 60;
      const std::string_view s = c.read_string(what);
      os << '\'' << s.substr(0, kShown) << (s.size() > kShown ? "...'" : "'");
      break;
    }
    case GgufType::Bool: os << (c.read<uint8_t>(what) ? "true" : "false"); break;
    case GgufType::F32: case GgufType::F64: os << read_as<double>(c, v.type, what); break;
    case GgufType::I8: case GgufType::I16: case GgufType::I32: case GgufType::I64:
      os << read_as<int64_t>(c, v.type, what);
      break;
    default: os << read_as<uint64_t>(c, v.type, what); break;
  }
  return os.str();
}

GgufFile::GgufFile(std::shared_ptr<const MappedFile> file) : file_(std::move(file)) {
  try {
    parse();
  } catch (const Error& e) {
    fail(file_->path(), ": ", e.what());
  }
}

void GgufFile::parse() {
  Cursor c(file_->bytes());
  const auto magic = c.take(4, "magic");
  if (std::memcmp(magic.data(), "GGUF", 4) != 0) fail("not a GGUF file (bad magic)");
  version_ = c.read<uint32_t>("version");
  if (version_ != 2 && version_ != 3) fail("GGUF version ", version_, " is not supported (2 or 3 expected)");
  const uint64_t n_tensors = c.read<uint64_t>("tensor count");
  const uint64_t n_kv = c.read_count("metadata count", kMinKeyValueBytes);

  for (uint64_t i = 0; i < n_kv; ++i) {
    const std::string key(c.read_string("metadata key #" + std::to_string(i)));
    const std::string what = "metadata key '" + key + "'";
    const GgufValue value = read_value(c, c.read_type(what), what, 0);
    if (!metadata_index_.emplace(key, metadata_.size()).second) fail("duplicate metadata key '", key, "'");
    metadata_.push_back({key, value});
  }

  if (const auto a = opt_u32("general.alignment")) {
    if (*a == 0 || (*a & (*a - 1)) != 0) fail("general.alignment ", *a, " is not a power of two");
    alignment_ = *a;
  }

  if (n_tensors > c.remaining() / kMinTensorInfoBytes)
    fail("tensor count ", n_tensors, " is more than the ", c.remaining(), " remaining bytes can describe");
  std::vector<uint64_t> offsets;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    Tensor t;
    t.name = c.read_string("name of tensor #" + std::to_string(i));
    const std::string what = "tensor '" + t.name + "'";
    const uint32_t n_dims = c.read<uint32_t>(what);
    if (n_dims == 0 || n_dims > kMaxDims) fail(what, " has ", n_dims, " dimensions (1 to ", kMaxDims, " supported)");
    int64_t elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim = c.read<uint64_t>(what);
      if (dim > uint64_t(std::numeric_limits<int64_t>::max()) ||
          __builtin_mul_overflow(elements, int64_t(dim), &elements))
        fail(what, " has dimensions whose product overflows");
      t.shape.push_back(int64_t(dim));
    }
    const uint32_t type_id = c.read<uint32_t>(what);
    const DTypeInfo* info = dtype_info(type_id);
    if (!info) fail(what, " has unknown type id ", type_id);
    t.type = DType(type_id);
    if (t.shape[0] % info->block_elems != 0)
      fail(what, " has rows of ", t.shape[0], " elements, not a whole number of ", info->name, " blocks");
    size_t bytes = 0;
    if (__builtin_mul_overflow(size_t(elements / info->block_elems), size_t(info->block_bytes), &bytes))
      fail(what, " is too large");
    const uint64_t offset = c.read<uint64_t>(what);
    if (offset % alignment_ != 0) fail(what, " data offset ", offset, " is not a multiple of the alignment ", alignment_);
    if (!tensor_index_.emplace(t.name, tensors_.size()).second) fail("duplicate tensor '", t.name, "'");
    tensors_.push_back(std::move(t));
    offsets.push_back(offset);
  }

  // Files without tensors (llama.cpp's vocab-only files) may end before the padded data
  // offset, so the data section is only checked through the tensors that live in it.
  data_offset_ = (c.pos() + alignment_ - 1) / alignment_ * alignment_;
  const size_t size = file_->size();
  const size_t data_bytes = size > data_offset_ ? size - data_offset_ : 0;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    Tensor& t = tensors_[i];
    const size_t bytes = t.bytes();
    if (offsets[i] > data_bytes || bytes > data_bytes - offsets[i])
      fail("tensor '", t.name, "' data (", bytes, " bytes at offset ", data_offset_ + offsets[i],
           ") runs past the end of the file (", size, " bytes)");
    t.data = file_->data() + data_offset_ + offsets[i];
  }
}

const GgufValue* GgufFile::find(std::string_view key) const {
  const auto it = metadata_index_.find(key);
  return it == metadata_index_.end() ? nullptr : &metadata_[it->second].value;
}

const Tensor* GgufFile::find_tensor(std::string_view name) const {
  const auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

template <typename T>
std::optional<T> GgufFile::opt(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return std::nullopt;
  return decode<T>(key, *v);
}

template <typename T>
T GgufFile::get(std::string_view key) const {
  if (auto v = opt<T>(key)) return *std::move(v);
  fail("GGUF metadata key '", key, "' is missing");
}

// The getters the header exposes.
#define LUMEN_GGUF_GETTER(T)                                            \
  template T GgufFile::get<T>(std::string_view key) const;              \
  template std::optional<T> GgufFile::opt<T>(std::string_view key) const;
LUMEN_GGUF_GETTER(uint32_t)
LUMEN_GGUF_GETTER(int32_t)
LUMEN_GGUF_GETTER(uint64_t)
LUMEN_GGUF_GETTER(float)
LUMEN_GGUF_GETTER(bool)
LUMEN_GGUF_GETTER(std::string)
LUMEN_GGUF_GETTER(std::vector<std::string>)
LUMEN_GGUF_GETTER(std::vector<float>)
LUMEN_GGUF_GETTER(std::vector<int32_t>)
#undef LUMEN_GGUF_GETTER

}  // namespace lumen
