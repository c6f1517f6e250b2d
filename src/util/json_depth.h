#pragma once
// JSON from model files and requests is untrusted. nlohmann's parser is iterative, but copying,
// dumping and walking a parsed value recurse once per level of nesting, so 100000 nested
// brackets (200 KB) would overflow the stack. Parsing with this callback refuses them first.
#include <nlohmann/json.hpp>

namespace lumen {

constexpr int kMaxJsonDepth = 128;  // real configs, tokenizers and requests nest a few levels

// For json::parse(input, json_depth_limit()): past kMaxJsonDepth levels it throws a
// json::out_of_range, which the caller's handler for malformed JSON reports.
inline nlohmann::json::parser_callback_t json_depth_limit() {
  return [](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
    if (depth > kMaxJsonDepth)
      throw nlohmann::json::out_of_range::create(
          499, "nested more than " + std::to_string(kMaxJsonDepth) + " levels deep", nullptr);
    return true;
  };
}

}  // namespace lumen
