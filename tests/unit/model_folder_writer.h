#pragma once
// Writes the files of a model folder for the loader tests: a config.json and a model.safetensors
// of deterministic F32 values under the given names and PyTorch (row-major) shapes.
#include <cstdint>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace lumen::test {

using Shapes = std::vector<std::pair<std::string, std::vector<int64_t>>>;  // name, torch (row-major) shape

// Small ones in a short cycle (seed 0), enough to load and run; or, from a nonzero seed,
// pseudo-random weights in [-1, 1) and zero biases, so that no bias drowns what the weights make
// of each token and position.
inline void write_safetensors(const std::string& path, const Shapes& tensors, uint32_t seed = 0) {
  nlohmann::json header = nlohmann::json::object();
  std::vector<float> data;
  uint32_t state = seed;
  auto value = [&](const std::string& name, int64_t i) {
    if (seed == 0) return 0.01f * float((i * 7 + int64_t(data.size())) % 13) - 0.06f;
    if (name.ends_with("bias")) return 0.0f;
    state = state * 1664525u + 1013904223u;  // Numerical Recipes' LCG: the same values everywhere
    return float(state >> 8) / float(1 << 23) - 1.0f;
  };
  for (const auto& [name, shape] : tensors) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    const size_t begin = data.size() * sizeof(float);
    for (int64_t i = 0; i < n; ++i) data.push_back(value(name, i));
    header[name] = {{"dtype", "F32"}, {"shape", shape}, {"data_offsets", {begin, data.size() * sizeof(float)}}};
  }
  const std::string text = header.dump();
  const uint64_t n = text.size();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(&n), 8);
  out.write(text.data(), std::streamsize(text.size()));
  out.write(reinterpret_cast<const char*>(data.data()), std::streamsize(data.size() * sizeof(float)));
}

inline void write_json(const std::string& path, const nlohmann::json& j) { std::ofstream(path) << j.dump(); }

}  // namespace lumen::test
