#pragma once
// The two row operations attention performs on cached keys and values, for each storage type
// of the KV cache (F32, F16, Q8_0): a dot product with the query and an accumulation a·v into
// the output, in plain scalar code: attend_reference's building blocks. (The AVX2 attention in
// attention_one_avx2.cpp and attention_avx2.cpp inlines its own row loops.)
#include <cstdint>

#include "tensor/dtype.h"

namespace lumen {

struct KvRowOps {
  float (*dot)(const float* q, const uint8_t* k, DType type, int32_t n);
  void (*axpy)(float a, const uint8_t* v, DType type, int32_t n, float* out);  // out += a * v
};

const KvRowOps& kv_row_ops_scalar();

}  // namespace lumen
