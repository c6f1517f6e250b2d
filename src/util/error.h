#pragma once
// lumen reports every bad input (file, shape, request) as a lumen::Error whose message is one
// line naming the problem; the command line prints it and exits non-zero.
#include <sstream>
#include <stdexcept>
#include <string>

namespace lumen {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// fail("tensor ", name, " has ", n, " elements") — concatenates its arguments and throws.
template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  throw Error(os.str());
}

}  // namespace lumen
