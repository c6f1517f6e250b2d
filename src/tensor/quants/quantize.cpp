#include "tensor/quants/quantize.h"

#include <algorithm>
#include <thread>

#include "tensor/quants/quant_k.h"
#include "tensor/quants/quant_legacy.h"
#include "util/error.h"

namespace lumen {
namespace {

using QuantizeFn = void (*)(const float*, void*, int64_t);
using DequantizeFn = void (*)(const void*, float*, int64_t);

struct Codec {
  DType type;
  QuantizeFn quantize;
  DequantizeFn dequantize;
};

// Adapts a typed row function (float -> Block) to the untyped table.
template <typename Block, void (*F)(const float*, Block*, int64_t)>
void quantize_as(const float* x, void* y, int64_t n) {
  F(x, static_cast<Block*>(y), n);
}
template <typename Block, void (*F)(const Block*, float*, int64_t)>
void dequantize_as(const void* x, float* y, int64_t n) {
  F(static_cast<const Block*>(x), y, n);
}

// The plain types: one value per element, converted with dtype.h's rounding (nearest even).
template <typename T, T (*Narrow)(float)>
void narrow_row(const float* x, void* y, int64_t n) {
  auto* out = static_cast<T*>(y);
  for (int64_t i = 0; i < n; ++i) out[i] = Narrow(x[i]);
}
template <typename T, float (*Widen)(T)>
void widen_row(const void* x, float* y, int64_t n) {
  const auto* in = static_cast<const T*>(x);
  for (int64_t i = 0; i < n; ++i) y[i] = Widen(in[i]);
}
float identity(float x) { return x; }

using namespace quants;
constexpr Codec kCodecs[] = {
    {DType::F32, narrow_row<float, identity>, widen_row<float, identity>},
    {DType::F16, narrow_row<uint16_t, f32_to_f16>, widen_row<uint16_t, f16_to_f32>},
    {DType::BF16, narrow_row<uint16_t, f32_to_bf16>, widen_row<uint16_t, bf16_to_f32>},
    {DType::Q4_0, quantize_as<BlockQ4_0, quantize_row_q4_0>, dequantize_as<BlockQ4_0, dequantize_row_q4_0>},
    {DType::Q4_1, quantize_as<BlockQ4_1, quantize_row_q4_1>, dequantize_as<BlockQ4_1, dequantize_row_q4_1>},
    {DType::Q5_0, quantize_as<BlockQ5_0, quantize_row_q5_0>, dequantize_as<BlockQ5_0, dequantize_row_q5_0>},
    {DType::Q5_1, quantize_as<BlockQ5_1, quantize_row_q5_1>, dequantize_as<BlockQ5_1, dequantize_row_q5_1>},
    {DType::Q8_0, quantize_as<BlockQ8_0, quantize_row_q8_0>, dequantize_as<BlockQ8_0, dequantize_row_q8_0>},
    {DType::Q4_K, quantize_as<BlockQ4_K, quantize_row_q4_k>, dequantize_as<BlockQ4_K, dequantize_row_q4_k>},
    {DType::Q5_K, quantize_as<BlockQ5_K, quantize_row_q5_k>, dequantize_as<BlockQ5_K, dequantize_row_q5_k>},
    {DType::Q6_K, quantize_as<BlockQ6_K, quantize_row_q6_k>, dequantize_as<BlockQ6_K, dequantize_row_q6_k>},
    {DType::Q8_K, quantize_as<BlockQ8_K, quantize_row_q8_k>, dequantize_as<BlockQ8_K, dequantize_row_q8_k>},
};

const Codec* find_codec(DType t) {
  for (const Codec& c : kCodecs)
    if (c.type == t) return &c;
  return nullptr;
}

// The codec for t, after checking that n values are whole blocks of it.
const Codec& codec_for(DType t, int64_t n) {
  const Codec* c = find_codec(t);
  if (!c) fail("lumen cannot convert to or from ", dtype_name(t));
  row_bytes(t, n);  // fails unless n is a whole number of blocks
  return *c;
}

// Runs body(first_row, end_row) over [0, rows) on up to hardware_concurrency threads.
template <typename Body>
void for_row_ranges(int64_t rows, Body body) {
  const int64_t threads = std::clamp<int64_t>(std::thread::hardware_concurrency(), 1, std::max<int64_t>(rows, 1));
  std::vector<std::jthread> pool;
  for (int64_t t = 1; t < threads; ++t) pool.emplace_back([=] { body(rows * t / threads, rows * (t + 1) / threads); });
  body(0, rows / threads);
}

}  // namespace

bool can_quantize_to(DType t) { return find_codec(t) != nullptr; }

void quantize_row(DType t, const float* src, void* dst, int64_t n) { codec_for(t, n).quantize(src, dst, n); }

void dequantize_row_quantized(DType t, const void* src, float* dst, int64_t n) {
  codec_for(t, n).dequantize(src, dst, n);
}

std::vector<uint8_t> quantize_tensor(DType t, const float* src, int64_t rows, int64_t row_length) {
  const Codec& c = codec_for(t, row_length);
  const size_t stride = row_bytes(t, row_length);
  std::vector<uint8_t> out(size_t(rows) * stride);
  for_row_ranges(rows, [&](int64_t first, int64_t end) {
    for (int64_t r = first; r < end; ++r) c.quantize(src + r * row_length, out.data() + r * stride, row_length);
  });
  return out;
}

std::vector<float> dequantize_tensor(DType t, const void* src, int64_t rows, int64_t row_length) {
  const Codec& c = codec_for(t, row_length);
  const size_t stride = row_bytes(t, row_length);
  std::vector<float> out(size_t(rows * row_length));
  const auto* bytes = static_cast<const uint8_t*>(src);
  for_row_ranges(rows, [&](int64_t first, int64_t end) {
    for (int64_t r = first; r < end; ++r) c.dequantize(bytes + r * stride, out.data() + r * row_length, row_length);
  });
  return out;
}

}  // namespace lumen
