#pragma once
// Reads a whole file as bytes (prompts given with -f).
#include <fstream>
#include <iterator>
#include <string>

#include "util/error.h"

namespace lumen::cli {

inline std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open ", path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace lumen::cli
