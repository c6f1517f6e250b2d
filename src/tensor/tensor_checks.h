#pragma once
// Small helpers over Tensor views that the model loaders (formats/) and the models share:
// checking a tensor's shape against the hyper-parameters, slicing rows out of a fused tensor,
// and widening a (vector) tensor to floats.
#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace lumen {

// Fails, naming the tensor (or `role` when it is absent), unless t has this ggml-order shape.
void expect_tensor_shape(const Tensor& t, const char* role, const std::vector<int64_t>& shape);

// Rows [first, first + count) of a matrix, or elements [first, first + count) of a vector (a
// bias): a view, no copy (a fused QKV weight split into Q, K and V).
Tensor tensor_rows(const Tensor& t, int64_t first, int64_t count);

// The whole tensor widened to float (files may store vectors as F16/BF16).
std::vector<float> widen(const Tensor& t);

}  // namespace lumen
