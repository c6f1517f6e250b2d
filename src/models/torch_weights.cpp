#include "models/torch_weights.h"

#include <algorithm>

#include "tensor/tensor_checks.h"
#include "util/error.h"

namespace lumen {

Tensor TorchWeights::tensor(const std::string& name, const std::vector<int64_t>& torch_shape) const {
  const Tensor* t = find_(name);
  if (!t) fail("model has no tensor '", name, "'");
  // Tensors come out of the readers in ggml order, the reverse of PyTorch's.
  std::vector<int64_t> shape(t->shape.rbegin(), t->shape.rend());
  if (shape != torch_shape)
    fail("tensor '", name, "' has shape ", shape_string(shape), " but the architecture needs ",
         shape_string(torch_shape), " (PyTorch order)");
  return *t;
}

std::vector<float> TorchWeights::floats(const std::string& name, const std::vector<int64_t>& torch_shape) const {
  return widen(tensor(name, torch_shape));
}

}  // namespace lumen
