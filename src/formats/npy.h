#pragma once
// NumPy .npy files (format version 1.0), so logits and embeddings can be compared with other
// implementations: `numpy.load` reads what this writes.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace lumen {

// Writes a C-order little-endian float32 array of the given shape.
void write_npy_f32(const std::string& path, const std::vector<int64_t>& shape, std::span<const float> data);

}  // namespace lumen
