#pragma once
#include <stdexcept>

namespace lumen {

// Every bad input (file, shape, parameter, request) is reported as a lumen::Error whose message
// is one line naming the problem.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace lumen
