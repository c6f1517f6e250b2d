#pragma once
// The OpenAI wire format: request bodies of /v1/completions and /v1/chat/completions checked
// field by field (every mistake an ApiError naming the field), and the response and stream-chunk
// objects built from what the engine produced.
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/sampler.h"

namespace lumen::server {

// An error the client caused (or the server's state, e.g. 503), sent as OpenAI's
// {"error": {"message", "type", "param", "code"}}.
struct ApiError : std::runtime_error {
  ApiError(int status, std::string message, std::string param = "", std::string code = "");
  int status;
  std::string param, code;
  std::string type() const;  // invalid_request_error, authentication_error, ...
  nlohmann::json body() const;
};

// A request whose fields have been checked; prompt limits against the model are checked later,
// once it is tokenized.
struct CompletionRequest {
  bool chat = false;
  std::string model;
  std::string prompt;                  // completions: the prompt text
  std::vector<int32_t> prompt_tokens;  // completions: a prompt given as token ids instead
  nlohmann::json messages;             // chat: [{role, content: string}] (content parts joined)
  std::optional<int32_t> max_tokens;   // none: completions 16, chat the rest of the context
  bool stream = false;
  bool include_usage = false;          // stream_options.include_usage: a last chunk with usage
  std::vector<std::string> stop;
  SamplingParams sampling;
  float presence_penalty = 0, frequency_penalty = 0;
  std::map<int32_t, float> logit_bias;
  // ≥ 0: report each token's log-probability with this many alternatives (completions'
  // `logprobs`, chat's `logprobs: true` with `top_logprobs`); -1: no logprobs.
  int32_t logprobs = -1;
  bool echo = false;                   // completions: the prompt's text comes first (and, with
                                       // logprobs, its tokens' log-probabilities)
  int32_t n = 1;                       // choices returned
  int32_t best_of = 1;                 // completions: candidates generated (≥ n), the n with the
                                       // highest log-probability per token returned
  bool json_object = false;            // response_format {"type": "json_object"}: JSON mode
};

// The most choices (n) or candidates (best_of) one request may ask for: OpenAI's best_of limit.
constexpr int32_t kMaxChoices = 20;

// Parses a request body; throws ApiError (400) for malformed JSON or a field of the wrong type
// or out of range. Unknown fields are ignored, as OpenAI-compatible servers commonly do.
CompletionRequest parse_completion_request(const std::string& body, bool chat);

// The body as a JSON object, or ApiError 400.
nlohmann::json parse_json_object(const std::string& body);

struct Usage {
  int32_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
};

// One token as `logprobs` reports it: its text (the token's own piece, which may be part of a
// character; the chat format adds its bytes), its log-probability (none for an echoed prompt's
// first token, which has no context), the most likely alternatives, and where its text starts
// in the completion (in characters).
struct TokenLogprobs {
  std::string token;
  std::optional<float> logprob;
  std::vector<std::pair<std::string, float>> top;
  int64_t text_offset = 0;
};

// Identifies one response: every chunk of a stream repeats it.
struct ResponseHeader {
  std::string id;
  int64_t created = 0;
  std::string model;
};

nlohmann::json usage_json(const Usage& usage);

// One choice of a whole response. `logprobs` are its tokens' (ignored unless the request asked
// for them).
struct Choice {
  std::string text;
  std::string finish_reason;
  std::vector<TokenLogprobs> logprobs;
};

// The whole (non-streamed) response, its choices indexed in order.
nlohmann::json completion_response(const CompletionRequest& request, const ResponseHeader& header,
                                   const std::vector<Choice>& choices, const Usage& usage);

// One streamed chunk of choice `index`: `text` as its delta, with the logprobs of the tokens
// that arrived with it; finish_reason null until the choice's last chunk. A chat stream's first
// chunk of each choice (role_only) carries only the assistant role.
nlohmann::json stream_chunk(const CompletionRequest& request, const ResponseHeader& header, int32_t index,
                            const std::string& text, const std::optional<std::string>& finish_reason,
                            bool role_only = false, const std::vector<TokenLogprobs>& logprobs = {});

// The chunk after the last choice when stream_options.include_usage is set: no choices, usage.
nlohmann::json usage_chunk(const CompletionRequest& request, const ResponseHeader& header, const Usage& usage);

}  // namespace lumen::server
