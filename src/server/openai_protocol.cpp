#include "server/openai_protocol.h"

#include <cmath>
#include <limits>
#include <random>

#include "runtime/logprobs.h"
#include "util/json_depth.h"

namespace lumen::server {

using json = nlohmann::json;

ApiError::ApiError(int status_, std::string message, std::string param_, std::string code_)
    : std::runtime_error(std::move(message)), status(status_), param(std::move(param_)), code(std::move(code_)) {}

std::string ApiError::type() const {
  if (status == 401) return "authentication_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

json ApiError::body() const {
  const auto or_null = [](const std::string& s) { return s.empty() ? json() : json(s); };
  return {{"error", {{"message", what()}, {"type", type()}, {"param", or_null(param)}, {"code", or_null(code)}}}};
}

namespace {

[[noreturn]] void bad_field(const std::string& name, const std::string& problem) {
  throw ApiError(400, "'" + name + "' " + problem, name, "invalid_value");
}

// Each reader returns nullopt when the field is absent or null (null means "the default" to
// OpenAI's clients) and rejects a value of the wrong type or outside [lo, hi].
const json* present(const json& body, const char* name) {
  auto it = body.find(name);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

std::optional<double> read_number(const json& body, const char* name, double lo, double hi) {
  const json* v = present(body, name);
  if (!v) return std::nullopt;
  if (!v->is_number()) bad_field(name, "must be a number");
  const double x = v->get<double>();
  if (!(x >= lo && x <= hi)) bad_field(name, "must be between " + json(lo).dump() + " and " + json(hi).dump());
  return x;
}

std::optional<int64_t> read_integer(const json& body, const char* name, int64_t lo, int64_t hi) {
  const json* v = present(body, name);
  if (!v) return std::nullopt;
  if (!v->is_number()) bad_field(name, "must be an integer");
  const auto out_of_range = [&] {
    bad_field(name, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
  };
  if (v->is_number_float()) {
    // JavaScript clients may send 5.0 for 5: a float is taken when it is integral. Its range is
    // checked before it is converted, which for a float beyond int64's range would be undefined
    // (2^63 is the first double past it; double(hi) may round up to it).
    const double x = v->get<double>();
    if (!(x == std::trunc(x))) bad_field(name, "must be an integer");
    if (!(x >= -0x1p63 && x < 0x1p63) || int64_t(x) < lo || int64_t(x) > hi) out_of_range();
    return int64_t(x);
  }
  if (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())) out_of_range();
  const int64_t x = v->is_number_unsigned() ? int64_t(v->get<uint64_t>()) : v->get<int64_t>();
  if (x < lo || x > hi) out_of_range();
  return x;
}

std::optional<bool> read_bool(const json& body, const char* name) {
  const json* v = present(body, name);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) bad_field(name, "must be a boolean");
  return v->get<bool>();
}

std::optional<std::string> read_string(const json& body, const char* name) {
  const json* v = present(body, name);
  if (!v) return std::nullopt;
  if (!v->is_string()) bad_field(name, "must be a string");
  return v->get<std::string>();
}

constexpr int64_t kMaxInt32 = std::numeric_limits<int32_t>::max();

std::vector<std::string> read_stop(const json& body) {
  const json* v = present(body, "stop");
  if (!v) return {};
  if (v->is_string()) return {v->get<std::string>()};
  if (!v->is_array() || v->size() > 4) bad_field("stop", "must be a string or an array of up to 4 strings");
  std::vector<std::string> stops;
  for (const json& s : *v) {
    if (!s.is_string()) bad_field("stop", "must be a string or an array of up to 4 strings");
    stops.push_back(s.get<std::string>());
  }
  return stops;
}

std::map<int32_t, float> read_logit_bias(const json& body) {
  const json* v = present(body, "logit_bias");
  if (!v) return {};
  if (!v->is_object()) bad_field("logit_bias", "must be an object mapping token ids to numbers");
  std::map<int32_t, float> bias;
  for (const auto& [key, value] : v->items()) {
    size_t used = 0;
    long long id = -1;
    try {
      id = std::stoll(key, &used);
    } catch (const std::exception&) {
    }
    if (used != key.size() || id < 0 || id > kMaxInt32) bad_field("logit_bias", "has a key that is not a token id: " + key);
    if (!value.is_number() || value.get<double>() < -100 || value.get<double>() > 100)
      bad_field("logit_bias", "values must be numbers between -100 and 100");
    bias[int32_t(id)] = value.get<float>();
  }
  return bias;
}

void read_prompt(const json& body, CompletionRequest& r) {
  const json* v = present(body, "prompt");
  if (!v) bad_field("prompt", "is required");
  const char* shape = "must be a string, an array of one string, or an array of token ids";
  if (v->is_string()) {
    r.prompt = v->get<std::string>();
  } else if (v->is_array() && v->size() == 1 && (*v)[0].is_string()) {
    r.prompt = (*v)[0].get<std::string>();
  } else if (v->is_array() && !v->empty()) {
    for (const json& t : *v) {
      if (!t.is_number_integer() || t.get<int64_t>() < 0 || t.get<int64_t>() > kMaxInt32) bad_field("prompt", shape);
      r.prompt_tokens.push_back(t.get<int32_t>());
    }
  } else {
    bad_field("prompt", shape);
  }
}

// Content may be a string or (newer clients) an array of parts; only text parts are supported.
std::string message_content(const json& content, size_t index) {
  const std::string name = "messages[" + std::to_string(index) + "].content";
  if (content.is_null()) return "";
  if (content.is_string()) return content.get<std::string>();
  if (!content.is_array()) bad_field(name, "must be a string or an array of text parts");
  std::string text;
  for (const json& part : content) {
    if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") || !part["text"].is_string())
      bad_field(name, "parts must be {\"type\": \"text\", \"text\": string}; only text is supported");
    text += part["text"].get<std::string>();
  }
  return text;
}

void read_messages(const json& body, CompletionRequest& r) {
  const json* v = present(body, "messages");
  if (!v) bad_field("messages", "is required");
  if (!v->is_array() || v->empty()) bad_field("messages", "must be a non-empty array");
  r.messages = json::array();
  for (size_t i = 0; i < v->size(); ++i) {
    const json& m = (*v)[i];
    const std::string name = "messages[" + std::to_string(i) + "]";
    if (!m.is_object()) bad_field(name, "must be an object");
    if (!m.contains("role") || !m["role"].is_string()) bad_field(name + ".role", "must be a string");
    const std::string role = m["role"].get<std::string>();
    if (role != "system" && role != "developer" && role != "user" && role != "assistant" && role != "tool")
      bad_field(name + ".role", "must be system, developer, user, assistant or tool");
    r.messages.push_back({{"role", role}, {"content", message_content(m.value("content", json()), i)}});
  }
}

// Completions: `logprobs`, the number of alternatives (OpenAI allows up to 5). Chat: `logprobs`
// true, and `top_logprobs` alternatives (up to 20), which needs it.
void read_logprobs(const json& body, CompletionRequest& r) {
  if (!r.chat) {
    r.logprobs = int32_t(read_integer(body, "logprobs", 0, 5).value_or(-1));
    return;
  }
  const auto top = read_integer(body, "top_logprobs", 0, kMaxTopLogprobs);
  const bool wanted = read_bool(body, "logprobs").value_or(false);
  if (top && !wanted) bad_field("top_logprobs", "needs 'logprobs': true");
  if (wanted) r.logprobs = int32_t(top.value_or(0));
}

}  // namespace

json parse_json_object(const std::string& body) {
  json parsed;
  try {
    parsed = json::parse(body, json_depth_limit(), false);
  } catch (const json::exception& e) {  // nested too deep: json_depth_limit throws even so
    throw ApiError(400, std::string("the request body is not valid JSON: ") + e.what(), "", "invalid_json");
  }
  if (parsed.is_discarded()) throw ApiError(400, "the request body is not valid JSON", "", "invalid_json");
  if (!parsed.is_object()) throw ApiError(400, "the request body must be a JSON object", "", "invalid_json");
  return parsed;
}

// response_format: "text", or "json_object" for JSON mode; json_schema (a schema's own grammar)
// is not implemented and says so rather than answering unconstrained.
bool read_json_mode(const json& body) {
  const json* format = present(body, "response_format");
  if (!format) return false;
  if (!format->is_object()) bad_field("response_format", "must be an object");
  const auto type_field = format->find("type");
  const std::string type = type_field != format->end() && type_field->is_string() ? type_field->get<std::string>() : "";
  if (type == "text") return false;
  if (type == "json_object") return true;
  if (type == "json_schema")
    bad_field("response_format", "type json_schema is not supported; json_object gives JSON without a schema");
  bad_field("response_format", "type must be \"text\" or \"json_object\"");
}

CompletionRequest parse_completion_request(const std::string& text, bool chat) {
  const json body = parse_json_object(text);
  CompletionRequest r;
  r.chat = chat;
  r.model = read_string(body, "model").value_or("");
  if (chat) read_messages(body, r);
  else read_prompt(body, r);

  r.n = int32_t(read_integer(body, "n", 1, kMaxChoices).value_or(1));
  r.best_of = r.n;
  if (!chat) r.best_of = int32_t(read_integer(body, "best_of", r.n, kMaxChoices).value_or(r.n));
  r.echo = !chat && read_bool(body, "echo").value_or(false);
  read_logprobs(body, r);
  // With echo, max_tokens 0 asks for the prompt alone (to score it, with logprobs).
  auto max_tokens = read_integer(body, "max_tokens", r.echo ? 0 : 1, kMaxInt32);
  if (chat && !max_tokens) max_tokens = read_integer(body, "max_completion_tokens", 1, kMaxInt32);
  if (max_tokens) r.max_tokens = int32_t(*max_tokens);
  r.stream = read_bool(body, "stream").value_or(false);
  // The best candidates are known only when all have ended (OpenAI: "results cannot be streamed").
  if (r.stream && r.best_of > r.n) bad_field("best_of", "cannot be streamed: with 'stream', it must equal n");
  if (const json* options = present(body, "stream_options")) {
    if (!options->is_object()) bad_field("stream_options", "must be an object");
    r.include_usage = read_bool(*options, "include_usage").value_or(false);
  }
  r.stop = read_stop(body);

  // OpenAI's defaults (temperature 1, top_p 1) for OpenAI's names; llama.cpp's extra samplers
  // are off unless asked for, so a plain OpenAI request samples the way OpenAI describes.
  SamplingParams& s = r.sampling;
  s.temperature = float(read_number(body, "temperature", 0, 2).value_or(1.0));
  s.top_p = float(read_number(body, "top_p", 0, 1).value_or(1.0));
  s.top_k = int32_t(read_integer(body, "top_k", 0, kMaxInt32).value_or(0));
  s.min_p = float(read_number(body, "min_p", 0, 1).value_or(0.0));
  s.repeat_penalty = float(read_number(body, "repeat_penalty", 0.01, 100).value_or(1.0));
  s.repeat_last_n = int32_t(read_integer(body, "repeat_last_n", 0, kMaxInt32).value_or(s.repeat_last_n));
  if (auto seed = read_integer(body, "seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()))
    s.seed = uint64_t(*seed);
  else
    s.seed = std::random_device{}();
  r.presence_penalty = float(read_number(body, "presence_penalty", -2, 2).value_or(0.0));
  r.frequency_penalty = float(read_number(body, "frequency_penalty", -2, 2).value_or(0.0));
  r.logit_bias = read_logit_bias(body);
  r.json_object = read_json_mode(body);
  return r;
}

json usage_json(const Usage& u) {
  return {{"prompt_tokens", u.prompt_tokens},
          {"completion_tokens", u.completion_tokens},
          {"total_tokens", u.prompt_tokens + u.completion_tokens},
          {"prompt_tokens_details", {{"cached_tokens", u.cached_tokens}}}};
}

namespace {

json envelope(const CompletionRequest& r, const ResponseHeader& h, const char* chat_object) {
  return {{"id", h.id},
          {"object", r.chat ? chat_object : "text_completion"},
          {"created", h.created},
          {"model", h.model},
          {"choices", json::array()}};
}

json finish_json(const std::optional<std::string>& finish) { return finish ? json(*finish) : json(); }

json utf8_bytes(const std::string& s) {
  json bytes = json::array();
  for (const unsigned char c : s) bytes.push_back(int(c));
  return bytes;
}

// The choice's `logprobs`: null unless asked for; chat's {content: [{token, logprob, bytes,
// top_logprobs: [...]}]} or the legacy completions' parallel arrays.
json logprobs_json(const CompletionRequest& r, const std::vector<TokenLogprobs>& tokens) {
  if (r.logprobs < 0) return nullptr;
  if (r.chat) {
    json content = json::array();
    for (const TokenLogprobs& t : tokens) {
      json top = json::array();
      for (const auto& [text, logprob] : t.top)
        top.push_back({{"token", text}, {"logprob", logprob}, {"bytes", utf8_bytes(text)}});
      content.push_back({{"token", t.token},
                         {"logprob", t.logprob.value_or(0.0f)},
                         {"bytes", utf8_bytes(t.token)},
                         {"top_logprobs", top}});
    }
    return {{"content", content}, {"refusal", nullptr}};
  }
  json text = json::array(), logprob = json::array(), top = json::array(), offset = json::array();
  for (const TokenLogprobs& t : tokens) {
    text.push_back(t.token);
    if (!t.logprob) {  // an echoed prompt's first token: OpenAI gives it nulls
      logprob.push_back(nullptr);
      top.push_back(nullptr);
    } else {
      logprob.push_back(*t.logprob);
      json alternatives = json::object();
      for (const auto& [piece, lp] : t.top) alternatives[piece] = lp;
      top.push_back(alternatives);
    }
    offset.push_back(t.text_offset);
  }
  return {{"tokens", text}, {"token_logprobs", logprob}, {"top_logprobs", top}, {"text_offset", offset}};
}

}  // namespace

json completion_response(const CompletionRequest& r, const ResponseHeader& h, const std::vector<Choice>& choices,
                         const Usage& usage) {
  json out = envelope(r, h, "chat.completion");
  for (size_t i = 0; i < choices.size(); ++i) {
    const Choice& c = choices[i];
    json choice = {{"index", i}, {"logprobs", logprobs_json(r, c.logprobs)}, {"finish_reason", c.finish_reason}};
    if (r.chat) choice["message"] = {{"role", "assistant"}, {"content", c.text}};
    else choice["text"] = c.text;
    out["choices"].push_back(std::move(choice));
  }
  out["usage"] = usage_json(usage);
  return out;
}

json stream_chunk(const CompletionRequest& r, const ResponseHeader& h, int32_t index, const std::string& text,
                  const std::optional<std::string>& finish_reason, bool role_only,
                  const std::vector<TokenLogprobs>& logprobs) {
  json out = envelope(r, h, "chat.completion.chunk");
  json choice = {{"index", index},
                 {"logprobs", role_only ? json() : logprobs_json(r, logprobs)},
                 {"finish_reason", finish_json(finish_reason)}};
  if (!r.chat) choice["text"] = text;
  else if (role_only) choice["delta"] = {{"role", "assistant"}, {"content", ""}};
  else if (finish_reason && text.empty()) choice["delta"] = json::object();
  else choice["delta"] = {{"content", text}};
  out["choices"].push_back(std::move(choice));
  return out;
}

json usage_chunk(const CompletionRequest& r, const ResponseHeader& h, const Usage& usage) {
  json out = envelope(r, h, "chat.completion.chunk");
  out["usage"] = usage_json(usage);
  return out;
}

}  // namespace lumen::server
