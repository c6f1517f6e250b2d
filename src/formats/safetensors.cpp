#include "formats/safetensors.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "util/error.h"
#include "util/json_depth.h"

namespace lumen {
namespace {

using nlohmann::json;

constexpr uint64_t kMaxHeader = uint64_t(100) << 20;  // the format's own limit is 100 MB

bool dtype_from_name(const std::string& s, DType& out) {
  if (s == "F32") out = DType::F32;
  else if (s == "F16") out = DType::F16;
  else if (s == "BF16") out = DType::BF16;
  else return false;
  return true;
}

size_t dtype_size(DType t) { return t == DType::F32 ? 4 : 2; }

}  // namespace

SafetensorsFile::SafetensorsFile(std::shared_ptr<const MappedFile> file) : file_(std::move(file)) {
  const std::string& path = file_->path();
  const uint64_t size = file_->size();
  if (size < 8) fail(path, ": file too short for a safetensors header (", size, " bytes)");
  uint64_t header_len = 0;
  std::memcpy(&header_len, file_->data(), 8);
  if (header_len > size - 8) fail(path, ": safetensors header length ", header_len, " runs past the end of the file (", size, " bytes)");
  if (header_len > kMaxHeader) fail(path, ": safetensors header length ", header_len, " is over the 100 MB limit");
  const char* text = reinterpret_cast<const char*>(file_->data() + 8);
  json header;
  try {
    header = json::parse(text, text + header_len, json_depth_limit());
  } catch (const json::exception& e) {
    fail(path, ": safetensors header is not valid JSON: ", e.what());
  }
  if (!header.is_object()) fail(path, ": safetensors header is not a JSON object");
  const uint8_t* data = file_->data() + 8 + header_len;
  const uint64_t data_size = size - 8 - header_len;

  struct Span {
    uint64_t begin, end;
    size_t tensor;
  };
  std::vector<Span> spans;
  for (const auto& item : header.items()) {
    // Plain references, not a structured binding: the `bad` lambda below captures the name,
    // which C++20 allows for bindings but clang accepts only from version 16.
    const std::string& name = item.key();
    const json& entry = item.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) fail(path, ": __metadata__ is not an object");
      for (const auto& [k, v] : entry.items()) {
        if (!v.is_string()) fail(path, ": __metadata__ value '", k, "' is not a string");
        metadata_[k] = v.get<std::string>();
      }
      continue;
    }
    auto bad = [&](const auto&... why) { fail(path, ": tensor '", name, "': ", why...); };
    if (!entry.is_object()) bad("entry is not an object");
    if (!entry.contains("dtype") || !entry["dtype"].is_string()) bad("has no dtype");
    if (!entry.contains("shape") || !entry["shape"].is_array()) bad("has no shape");
    if (!entry.contains("data_offsets") || !entry["data_offsets"].is_array() || entry["data_offsets"].size() != 2)
      bad("has no data_offsets [begin, end]");
    const std::string dtype_name_str = entry["dtype"].get<std::string>();
    Tensor t;
    t.name = name;
    if (!dtype_from_name(dtype_name_str, t.type)) bad("unknown or unsupported dtype '", dtype_name_str, "' (F32, F16, BF16)");
    const json& shape = entry["shape"];
    if (shape.size() > 4) bad("has ", shape.size(), " dimensions (at most 4)");
    uint64_t elements = 1;
    for (const json& d : shape) {
      if (!d.is_number_unsigned()) bad("shape holds a value that is not a non-negative integer");
      const uint64_t v = d.get<uint64_t>();
      if (v != 0 && elements > (uint64_t(1) << 48) / v) bad("shape ", shape.dump(), " is too large");
      elements *= v;
      t.shape.insert(t.shape.begin(), int64_t(v));  // row-major [.., rows, cols] -> ggml {cols, rows, ..}
    }
    const json& off = entry["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned()) bad("data_offsets are not non-negative integers");
    const uint64_t begin = off[0].get<uint64_t>(), end = off[1].get<uint64_t>();
    if (end < begin) bad("data_offsets end ", end, " is before begin ", begin);
    if (end > data_size) bad("data_offsets [", begin, ", ", end, "] run past the end of the data (", data_size, " bytes)");
    if (end - begin != elements * dtype_size(t.type))
      bad("data_offsets hold ", end - begin, " bytes but shape ", shape.dump(), " of ", dtype_name_str, " needs ",
          elements * dtype_size(t.type));
    t.data = data + begin;
    spans.push_back({begin, end, tensors_.size()});
    tensors_.push_back(std::move(t));
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].begin < spans[i - 1].end && spans[i].end > spans[i].begin)
      fail(path, ": tensor '", tensors_[spans[i].tensor].name, "' overlaps tensor '", tensors_[spans[i - 1].tensor].name,
           "' (bytes ", spans[i].begin, "..", spans[i].end, " and ", spans[i - 1].begin, "..", spans[i - 1].end, ")");
  std::vector<Tensor> ordered;
  for (const Span& s : spans) ordered.push_back(std::move(tensors_[s.tensor]));
  tensors_ = std::move(ordered);
  for (size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
}

const Tensor* SafetensorsFile::find(const std::string& name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

SafetensorsSet::SafetensorsSet(const std::string& dir) {
  namespace fs = std::filesystem;
  const fs::path single = fs::path(dir) / "model.safetensors";
  const fs::path index = fs::path(dir) / "model.safetensors.index.json";
  std::vector<std::string> shard_names;
  std::map<std::string, std::string> weight_map;
  if (fs::exists(index)) {
    std::ifstream in(index);
    json j;
    try {
      j = json::parse(in, json_depth_limit());
    } catch (const json::exception& e) {
      fail(index.string(), ": not valid JSON: ", e.what());
    }
    if (!j.is_object() || !j.contains("weight_map") || !j["weight_map"].is_object())
      fail(index.string(), ": has no weight_map object");
    for (const auto& [name, file] : j["weight_map"].items()) {
      if (!file.is_string()) fail(index.string(), ": weight_map entry '", name, "' is not a file name");
      const std::string f = file.get<std::string>();
      if (f.empty() || f.find('/') != std::string::npos || f.find('\\') != std::string::npos || f == "." || f == "..")
        fail(index.string(), ": weight_map names shard '", f, "' for tensor '", name, "', which is not a plain file name");
      weight_map[name] = f;
      if (std::find(shard_names.begin(), shard_names.end(), f) == shard_names.end()) {
        if (!fs::exists(fs::path(dir) / f))
          fail(index.string(), ": shard '", f, "' (holding tensor '", name, "') does not exist in ", dir);
        shard_names.push_back(f);
      }
    }
    if (shard_names.empty()) fail(index.string(), ": weight_map is empty");
  } else if (fs::exists(single)) {
    shard_names.push_back("model.safetensors");
  } else {
    fail(dir, ": has neither model.safetensors nor model.safetensors.index.json");
  }
  shards_.reserve(shard_names.size());
  for (const std::string& f : shard_names)
    shards_.emplace_back(std::make_shared<const MappedFile>((fs::path(dir) / f).string()));
  for (size_t s = 0; s < shards_.size(); ++s)
    for (const Tensor& t : shards_[s].tensors()) {
      if (!weight_map.empty()) {
        const auto it = weight_map.find(t.name);
        if (it == weight_map.end() || it->second != shard_names[s]) continue;  // the index decides
      }
      if (by_name_.count(t.name)) fail(dir, ": tensor '", t.name, "' is in more than one shard");
      by_name_[t.name] = {s, &t};
    }
  for (const auto& [name, f] : weight_map)
    if (!by_name_.count(name)) fail(index.string(), ": tensor '", name, "' is not in shard '", f, "'");
}

const Tensor* SafetensorsSet::find(const std::string& name) const {
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second.second;
}

std::vector<Tensor> SafetensorsSet::tensors() const {
  std::vector<Tensor> out;
  for (const SafetensorsFile& s : shards_) out.insert(out.end(), s.tensors().begin(), s.tensors().end());
  return out;
}

std::vector<std::shared_ptr<const MappedFile>> SafetensorsSet::files() const {
  std::vector<std::shared_ptr<const MappedFile>> out;
  for (const SafetensorsFile& s : shards_) out.push_back(s.file());
  return out;
}

}  // namespace lumen
