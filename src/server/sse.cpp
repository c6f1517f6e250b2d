#include "server/sse.h"

namespace lumen::server {

std::string to_wire(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// JSON text never contains a raw newline, so one `data:` line always holds the whole event.
std::string sse_event(const nlohmann::json& data) { return "data: " + to_wire(data) + "\n\n"; }

std::string sse_done() { return "data: [DONE]\n\n"; }

}  // namespace lumen::server
