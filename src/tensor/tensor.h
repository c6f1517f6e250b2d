#pragma once
// A Tensor is a named, typed view of bytes that someone else owns (an mmap'd model file or a
// buffer held by the loaded model). Shapes use ggml's order: shape[0] is the length of a row
// (the fastest-moving index), so a weight matrix mapping `in` to `out` has shape {in, out}.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/dtype.h"

namespace lumen {

// How a matrix's blocks lie in memory: row after row, as the files store them, or repacked at
// load for the kernels with 16 rows interleaved block by block (kernels/packed_layout.h), so
// that one SIMD register holds the same block column of 16 rows.
enum class Layout : uint8_t { Rows, Interleaved16 };

struct Tensor {
  std::string name;
  DType type = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
  Layout layout = Layout::Rows;  // row() is meaningful for Layout::Rows only

  int64_t elements() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
  int64_t row_length() const { return shape.empty() ? 0 : shape[0]; }
  int64_t rows() const { return row_length() ? elements() / row_length() : 0; }
  size_t bytes() const { return rows() * row_bytes(type, row_length()); }
  const uint8_t* row(int64_t r) const {
    return static_cast<const uint8_t*>(data) + size_t(r) * row_bytes(type, row_length());
  }
  bool present() const { return data != nullptr; }
};

std::string shape_string(const std::vector<int64_t>& shape);  // "[64, 512]"

}  // namespace lumen
