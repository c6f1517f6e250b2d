#pragma once
// Element types, numbered as GGUF/ggml number them so that a type id read from a file is a
// DType directly. Quantized block types are listed for their sizes; kernels for them arrive
// with the quantization work.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace lumen {

enum class DType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  BF16 = 30,
};

struct DTypeInfo {
  std::string_view name;
  uint32_t block_elems;  // elements per block (1 for plain types)
  uint32_t block_bytes;  // bytes per block
};

// Returns nullptr for an id lumen does not know.
const DTypeInfo* dtype_info(uint32_t id);
const DTypeInfo& dtype_info(DType t);
inline std::string_view dtype_name(DType t) { return dtype_info(t).name; }

// Bytes of a row of n elements; fails if n is not a whole number of blocks.
size_t row_bytes(DType t, int64_t n);

// IEEE half and bfloat16 conversions (round to nearest even on the way down).
float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
inline float bf16_to_f32(uint16_t b) {
  uint32_t u = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
uint16_t f32_to_bf16(float f);

}  // namespace lumen
