#pragma once
// The chat page served at `/`, embedded into the binary at build time from web/index.html (see
// CMakeLists.txt here) so an installed lumen needs no source tree.
#include <string_view>

namespace lumen::server {

extern const std::string_view kIndexHtml;

}  // namespace lumen::server
