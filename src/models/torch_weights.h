#pragma once
// A PyTorch state dict as the vision families read it: tensors by their torchvision names, each
// checked against the shape the architecture expects, given in PyTorch's order ([out, in, kh, kw]
// for a convolution) because that is how the names' owners print them. Missing or mis-shaped
// tensors are one-line errors naming the tensor.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace lumen {

class TorchWeights {
 public:
  // find returns nullptr for a name the file does not hold.
  explicit TorchWeights(std::function<const Tensor*(const std::string&)> find) : find_(std::move(find)) {}

  // The tensor `name`, which must have `torch_shape`; a view into the file.
  Tensor tensor(const std::string& name, const std::vector<int64_t>& torch_shape) const;
  // The same widened to floats.
  std::vector<float> floats(const std::string& name, const std::vector<int64_t>& torch_shape) const;

 private:
  std::function<const Tensor*(const std::string&)> find_;
};

}  // namespace lumen
