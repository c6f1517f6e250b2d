#pragma once
// lumen reports every bad input as a lumen::Error (include/lumen/error.h) whose message is one
// line naming the problem; the command line prints it and exits non-zero.
#include <sstream>
#include <string>

#include "lumen/error.h"

namespace lumen {

// fail("tensor ", name, " has ", n, " elements") — concatenates its arguments and throws.
template <typename... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  std::ostringstream os;
  (os << ... << parts);
  throw Error(os.str());
}

}  // namespace lumen
