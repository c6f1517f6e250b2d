// The scalar reference twin of the KV row operations: widen each value, multiply, add, in
// index order.
#include "kernels/kv_rows.h"

#include "tensor/quants/block_formats.h"

namespace lumen {
namespace {

// Value i of a row stored as `type`.
float value_at(const uint8_t* row, DType type, int32_t i) {
  switch (type) {
    case DType::F32: return reinterpret_cast<const float*>(row)[i];
    case DType::F16: return f16_to_f32(reinterpret_cast<const uint16_t*>(row)[i]);
    default: {  // Q8_0
      const auto& b = reinterpret_cast<const quants::BlockQ8_0*>(row)[i / quants::kQK];
      return f16_to_f32(b.d) * float(b.qs[i % quants::kQK]);
    }
  }
}

float dot(const float* q, const uint8_t* k, DType type, int32_t n) {
  float sum = 0.0f;
  for (int32_t i = 0; i < n; ++i) sum += q[i] * value_at(k, type, i);
  return sum;
}

void axpy(float a, const uint8_t* v, DType type, int32_t n, float* out) {
  for (int32_t i = 0; i < n; ++i) out[i] += a * value_at(v, type, i);
}

}  // namespace

const KvRowOps& kv_row_ops_scalar() {
  static constexpr KvRowOps ops{dot, axpy};
  return ops;
}

}  // namespace lumen
