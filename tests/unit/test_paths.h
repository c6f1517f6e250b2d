#pragma once
// Where the tests find the project's files and the models CTest's fixture generates.
#include <cstdlib>
#include <string>

namespace lumen::test {

inline std::string source_path(const std::string& relative) { return std::string(LUMEN_SOURCE_DIR) + "/" + relative; }

// Random-weight models written by tests/tools/make_test_models.sh (the CTest fixture).
inline std::string generated_model_path(const std::string& name) {
  const char* dir = std::getenv("LUMEN_TEST_MODELS");
  return std::string(dir ? dir : LUMEN_TEST_MODELS_DIR) + "/" + name;
}

}  // namespace lumen::test
