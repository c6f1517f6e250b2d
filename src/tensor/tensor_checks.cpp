#include "tensor/tensor_checks.h"

#include "kernels/matmul.h"
#include "util/error.h"

namespace lumen {

void expect_tensor_shape(const Tensor& t, const char* role, const std::vector<int64_t>& shape) {
  if (!t.present()) fail("model is missing its ", role, " tensor");
  if (t.shape != shape)
    fail("tensor '", t.name, "' has shape ", shape_string(t.shape), " but the model's hyper-parameters need ",
         shape_string(shape));
}

Tensor tensor_rows(const Tensor& t, int64_t first, int64_t count) {
  Tensor out = t;
  if (t.shape.size() == 1) {
    out.shape = {count};
    out.data = static_cast<const uint8_t*>(t.data) + row_bytes(t.type, first);
  } else {
    out.shape = {t.shape[0], count};
    out.data = t.row(first);
  }
  return out;
}

std::vector<float> widen(const Tensor& t) {
  std::vector<float> out(t.elements());
  dequantize_row(t.type, t.data, out.data(), t.elements());
  return out;
}

}  // namespace lumen
