#pragma once
// Hugging Face safetensors files, read from a memory map: an 8-byte little-endian header
// length N, N bytes of JSON ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
// "__metadata__": {string: string}}), then the tensor bytes, offsets counted from the byte
// after the header. Every offset is checked against the file before a tensor is handed out;
// a header that lies (past the end, end < begin, a size that is not shape x dtype, tensors
// that overlap) or an unknown dtype is a one-line lumen::Error naming the tensor.
//
// Tensors come out in lumen's (ggml) shape order, the reverse of the file's row-major shape:
// a torch nn.Linear weight [out, in] becomes {in, out}.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tensor/mapped_file.h"
#include "tensor/tensor.h"

namespace lumen {

class SafetensorsFile {
 public:
  explicit SafetensorsFile(std::shared_ptr<const MappedFile> file);

  const std::vector<Tensor>& tensors() const { return tensors_; }  // in the order of their offsets
  const Tensor* find(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::shared_ptr<const MappedFile>& file() const { return file_; }

 private:
  std::shared_ptr<const MappedFile> file_;
  std::vector<Tensor> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// The weights of a Hugging Face model folder: `model.safetensors`, or the shards that
// `model.safetensors.index.json` names in its weight_map (a missing shard, or a tensor the map
// puts in a shard that does not hold it, is an error naming it).
class SafetensorsSet {
 public:
  explicit SafetensorsSet(const std::string& dir);

  const Tensor* find(const std::string& name) const;
  std::vector<Tensor> tensors() const;  // every tensor of every shard
  std::vector<std::shared_ptr<const MappedFile>> files() const;

 private:
  std::vector<SafetensorsFile> shards_;
  std::map<std::string, std::pair<size_t, const Tensor*>> by_name_;
};

}  // namespace lumen
