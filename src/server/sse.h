#pragma once
// Server-Sent Events framing for streamed completions: each event is one `data:` line holding a
// JSON object, and the stream ends with `data: [DONE]`, as OpenAI's clients expect.
#include <string>

#include <nlohmann/json.hpp>

namespace lumen::server {

std::string sse_event(const nlohmann::json& data);
std::string sse_done();

// JSON text for a client. Invalid UTF-8 (a model may emit a lone byte token) becomes U+FFFD
// instead of an exception.
std::string to_wire(const nlohmann::json& value);

}  // namespace lumen::server
