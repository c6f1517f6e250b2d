// Request validation for /v1/completions and /v1/chat/completions: each malformed request is an
// ApiError naming its field, and the responses have OpenAI's shape.
#include <gtest/gtest.h>

#include <limits>

#include "server/openai_protocol.h"

namespace lumen::server {
namespace {

using json = nlohmann::json;

// The ApiError a body raises (status 0 when it parses).
ApiError error_of(const std::string& body, bool chat = false) {
  try {
    parse_completion_request(body, chat);
  } catch (const ApiError& e) {
    return e;
  }
  return ApiError(0, "parsed");
}

TEST(ServerProtocol, ParsesACompletionRequest) {
  const CompletionRequest r = parse_completion_request(
      R"({"model":"m","prompt":"Hi","max_tokens":5,"temperature":0,"top_p":0.5,"stop":["a","b"],"seed":7,
          "presence_penalty":1,"frequency_penalty":-1,"logit_bias":{"12":-100},"top_k":3,"min_p":0.1,
          "repeat_penalty":1.1,"stream":true,"stream_options":{"include_usage":true},"user":"x"})",
      false);
  EXPECT_EQ(r.prompt, "Hi");
  EXPECT_EQ(r.max_tokens, 5);
  EXPECT_EQ(r.sampling.temperature, 0.0f);
  EXPECT_EQ(r.sampling.top_p, 0.5f);
  EXPECT_EQ(r.sampling.top_k, 3);
  EXPECT_FLOAT_EQ(r.sampling.min_p, 0.1f);
  EXPECT_FLOAT_EQ(r.sampling.repeat_penalty, 1.1f);
  EXPECT_EQ(r.sampling.seed, 7u);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.presence_penalty, 1.0f);
  EXPECT_EQ(r.frequency_penalty, -1.0f);
  EXPECT_EQ(r.logit_bias.at(12), -100.0f);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
}

TEST(ServerProtocol, OpenAIDefaults) {
  const CompletionRequest r = parse_completion_request(R"({"prompt":"Hi","stop":"x","max_tokens":null})", false);
  EXPECT_FALSE(r.max_tokens);
  EXPECT_EQ(r.sampling.temperature, 1.0f);
  EXPECT_EQ(r.sampling.top_p, 1.0f);
  EXPECT_EQ(r.sampling.top_k, 0);
  EXPECT_EQ(r.sampling.min_p, 0.0f);
  EXPECT_EQ(r.stop, std::vector<std::string>{"x"});
  EXPECT_FALSE(r.stream);
}

TEST(ServerProtocol, PromptShapes) {
  EXPECT_EQ(parse_completion_request(R"({"prompt":["one"]})", false).prompt, "one");
  EXPECT_EQ(parse_completion_request(R"({"prompt":[1,5,9]})", false).prompt_tokens, (std::vector<int32_t>{1, 5, 9}));
}

TEST(ServerProtocol, ChatMessagesAndContentParts) {
  const CompletionRequest r = parse_completion_request(
      R"({"messages":[{"role":"system","content":"S"},
                      {"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}],
          "max_completion_tokens":9})",
      true);
  EXPECT_EQ(r.messages, json::parse(R"([{"role":"system","content":"S"},{"role":"user","content":"ab"}])"));
  EXPECT_EQ(r.max_tokens, 9);
}

TEST(ServerProtocol, EachMalformedRequestIsA400NamingTheField) {
  struct Case {
    const char* body;
    bool chat;
    const char* param;
  };
  const Case cases[] = {
      {R"({"prompt":)", false, ""},                             // not JSON
      {R"([1,2])", false, ""},                                  // not an object
      {R"({})", false, "prompt"},                               // missing prompt
      {R"({"prompt":5})", false, "prompt"},
      {R"({"prompt":[]})", false, "prompt"},
      {R"({"prompt":[1,"a"]})", false, "prompt"},
      {R"({"prompt":[-1]})", false, "prompt"},
      {R"({"prompt":"x","max_tokens":"5"})", false, "max_tokens"},
      {R"({"prompt":"x","max_tokens":0})", false, "max_tokens"},
      {R"({"prompt":"x","max_tokens":2.5})", false, "max_tokens"},
      {R"({"prompt":"x","max_tokens":1e300})", false, "max_tokens"},   // beyond int64: no conversion
      {R"({"prompt":"x","max_tokens":-1e300})", false, "max_tokens"},
      {R"({"prompt":"x","seed":9223372036854775808.0})", false, "seed"},  // 2^63
      {R"({"prompt":"x","seed":18446744073709551615})", false, "seed"},
      {R"({"prompt":"x","top_k":4294967296})", false, "top_k"},
      {R"({"prompt":"x","temperature":-0.1})", false, "temperature"},
      {R"({"prompt":"x","temperature":"hot"})", false, "temperature"},
      {R"({"prompt":"x","temperature":true})", false, "temperature"},
      {R"({"prompt":"x","top_p":1.5})", false, "top_p"},
      {R"({"prompt":"x","top_k":-1})", false, "top_k"},
      {R"({"prompt":"x","min_p":2})", false, "min_p"},
      {R"({"prompt":"x","repeat_penalty":0})", false, "repeat_penalty"},
      {R"({"prompt":"x","presence_penalty":3})", false, "presence_penalty"},
      {R"({"prompt":"x","frequency_penalty":-2.5})", false, "frequency_penalty"},
      {R"({"prompt":"x","seed":"s"})", false, "seed"},
      {R"({"prompt":"x","stop":5})", false, "stop"},
      {R"({"prompt":"x","stop":["a",1]})", false, "stop"},
      {R"({"prompt":"x","stop":["a","b","c","d","e"]})", false, "stop"},
      {R"({"prompt":"x","stream":"yes"})", false, "stream"},
      {R"({"prompt":"x","stream_options":1})", false, "stream_options"},
      {R"({"prompt":"x","logit_bias":[1]})", false, "logit_bias"},
      {R"({"prompt":"x","logit_bias":{"a":1}})", false, "logit_bias"},
      {R"({"prompt":"x","logit_bias":{"3":500}})", false, "logit_bias"},
      {R"({"prompt":"x","n":0})", false, "n"},
      {R"({"prompt":"x","n":21})", false, "n"},
      {R"({"prompt":"x","n":1.5})", false, "n"},
      {R"({"messages":[{"role":"user","content":"x"}],"n":"2"})", true, "n"},
      {R"({"prompt":"x","echo":"yes"})", false, "echo"},
      {R"({"prompt":"x","response_format":"json"})", false, "response_format"},
      {R"({"prompt":"x","response_format":{}})", false, "response_format"},
      {R"({"prompt":"x","response_format":{"type":"yaml"}})", false, "response_format"},
      {R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"json_schema","json_schema":{}}})", true, "response_format"},
      {R"({"prompt":"x","n":3,"best_of":2})", false, "best_of"},
      {R"({"prompt":"x","best_of":21})", false, "best_of"},
      {R"({"prompt":"x","best_of":2,"stream":true})", false, "best_of"},
      {R"({"prompt":"x","logprobs":6})", false, "logprobs"},
      {R"({"prompt":"x","logprobs":true})", false, "logprobs"},
      {R"({"messages":[{"role":"user","content":"x"}],"logprobs":2})", true, "logprobs"},
      {R"({"messages":[{"role":"user","content":"x"}],"logprobs":true,"top_logprobs":21})", true, "top_logprobs"},
      {R"({"messages":[{"role":"user","content":"x"}],"top_logprobs":2})", true, "top_logprobs"},
      {R"({"messages":[{"role":"user","content":"x"}],"logprobs":false,"top_logprobs":2})", true, "top_logprobs"},
      {R"({"prompt":"x","model":7})", false, "model"},
      {R"({})", true, "messages"},
      {R"({"messages":[]})", true, "messages"},
      {R"({"messages":"hi"})", true, "messages"},
      {R"({"messages":[5]})", true, "messages[0]"},
      {R"({"messages":[{"content":"x"}]})", true, "messages[0].role"},
      {R"({"messages":[{"role":"wizard","content":"x"}]})", true, "messages[0].role"},
      {R"({"messages":[{"role":"user","content":7}]})", true, "messages[0].content"},
      {R"({"messages":[{"role":"user","content":[{"type":"image_url"}]}]})", true, "messages[0].content"},
  };
  for (const Case& c : cases) {
    const ApiError e = error_of(c.body, c.chat);
    EXPECT_EQ(e.status, 400) << c.body;
    EXPECT_EQ(e.param, c.param) << c.body;
    EXPECT_EQ(e.type(), "invalid_request_error");
    EXPECT_FALSE(std::string(e.what()).empty());
  }
}

TEST(ServerProtocol, LogprobsRequests) {
  EXPECT_EQ(parse_completion_request(R"({"prompt":"x"})", false).logprobs, -1);
  EXPECT_EQ(parse_completion_request(R"({"prompt":"x","logprobs":null})", false).logprobs, -1);
  EXPECT_EQ(parse_completion_request(R"({"prompt":"x","logprobs":0})", false).logprobs, 0);
  EXPECT_EQ(parse_completion_request(R"({"prompt":"x","logprobs":5})", false).logprobs, 5);
  const std::string chat = R"({"messages":[{"role":"user","content":"x"}])";
  EXPECT_EQ(parse_completion_request(chat + "}", true).logprobs, -1);
  EXPECT_EQ(parse_completion_request(chat + R"(,"logprobs":false})", true).logprobs, -1);
  EXPECT_EQ(parse_completion_request(chat + R"(,"logprobs":true})", true).logprobs, 0);
  EXPECT_EQ(parse_completion_request(chat + R"(,"logprobs":true,"top_logprobs":20})", true).logprobs, 20);
}

// n choices; best_of candidates (completions only), n unless given; streaming only when all
// candidates are returned.
TEST(ServerProtocol, ChoicesAndCandidates) {
  CompletionRequest r = parse_completion_request(R"({"prompt":"x","n":3})", false);
  EXPECT_EQ(r.n, 3);
  EXPECT_EQ(r.best_of, 3);
  r = parse_completion_request(R"({"prompt":"x","n":2,"best_of":5})", false);
  EXPECT_EQ(r.n, 2);
  EXPECT_EQ(r.best_of, 5);
  r = parse_completion_request(R"({"prompt":"x","n":4,"best_of":4,"stream":true})", false);
  EXPECT_EQ(r.best_of, 4);
  r = parse_completion_request(R"({"messages":[{"role":"user","content":"x"}],"n":2,"best_of":7})", true);
  EXPECT_EQ(r.best_of, 2);  // not a chat field: ignored, as unknown fields are
}

TEST(ServerProtocol, ResponseFormat) {
  const std::string chat = R"({"messages":[{"role":"user","content":"x"}])";
  EXPECT_FALSE(parse_completion_request(chat + "}", true).json_object);
  EXPECT_FALSE(parse_completion_request(chat + R"(,"response_format":{"type":"text"}})", true).json_object);
  EXPECT_TRUE(parse_completion_request(chat + R"(,"response_format":{"type":"json_object"}})", true).json_object);
  EXPECT_TRUE(parse_completion_request(R"({"prompt":"x","response_format":{"type":"json_object"}})", false).json_object);
}

// echo (completions only) allows max_tokens 0: the prompt alone, to score it.
TEST(ServerProtocol, IntegersMayComeAsIntegralFloats) {
  EXPECT_EQ(parse_completion_request(R"({"prompt":"x","max_tokens":5.0})", false).max_tokens, 5);
  EXPECT_EQ(parse_completion_request(R"({"prompt":"x","seed":-9223372036854775808.0})", false).sampling.seed,
            uint64_t(std::numeric_limits<int64_t>::min()));
  EXPECT_EQ(parse_completion_request(R"({"prompt":"x","seed":9223372036854775807})", false).sampling.seed,
            uint64_t(std::numeric_limits<int64_t>::max()));
}

TEST(ServerProtocol, EchoRequests) {
  const CompletionRequest r = parse_completion_request(R"({"prompt":"x","echo":true,"max_tokens":0,"logprobs":1})", false);
  EXPECT_TRUE(r.echo);
  EXPECT_EQ(r.max_tokens, 0);
  EXPECT_EQ(r.logprobs, 1);
  EXPECT_EQ(error_of(R"({"prompt":"x","max_tokens":0})").param, "max_tokens");
  EXPECT_FALSE(parse_completion_request(R"({"messages":[{"role":"user","content":"x"}],"echo":true})", true).echo);
}

// The two shapes OpenAI gives `logprobs`: chat's list of token objects, completions' parallel arrays.
TEST(ServerProtocol, LogprobsInResponsesAndChunks) {
  const ResponseHeader h{"id1", 42, "m"};
  const std::vector<TokenLogprobs> tokens{{" a", -0.5f, {{" a", -0.5f}, {" b", -1.25f}}, 0},
                                          {"\xc3", -2.0f, {{"\xc3", -2.0f}, {"x", -3.0f}}, 2}};
  CompletionRequest chat;
  chat.chat = true;
  EXPECT_TRUE(completion_response(chat, h, {{" a", "stop", tokens}}, {})["choices"][0]["logprobs"].is_null());
  chat.logprobs = 2;
  const json c = completion_response(chat, h, {{" a", "stop", tokens}}, {})["choices"][0]["logprobs"];
  ASSERT_EQ(c["content"].size(), 2u);
  EXPECT_EQ(c["content"][0]["token"], " a");
  EXPECT_EQ(c["content"][0]["logprob"], -0.5);
  EXPECT_EQ(c["content"][0]["bytes"], json({32, 97}));
  EXPECT_EQ(c["content"][0]["top_logprobs"][1], json({{"token", " b"}, {"logprob", -1.25}, {"bytes", {32, 98}}}));
  EXPECT_EQ(c["content"][1]["bytes"], json({0xc3}));  // half a character: the bytes say what it is
  EXPECT_TRUE(c["refusal"].is_null());
  EXPECT_TRUE(stream_chunk(chat, h, 0, "", std::nullopt, true, tokens)["choices"][0]["logprobs"].is_null());
  EXPECT_EQ(stream_chunk(chat, h, 0, " a", std::nullopt, false, tokens)["choices"][0]["logprobs"], c);

  CompletionRequest plain;
  plain.logprobs = 2;
  const json p = completion_response(plain, h, {{" a", "stop", tokens}}, {})["choices"][0]["logprobs"];
  EXPECT_EQ(p["tokens"], json({" a", "\xc3"}));
  EXPECT_EQ(p["token_logprobs"], json({-0.5, -2.0}));
  EXPECT_EQ(p["top_logprobs"][0], json({{" a", -0.5}, {" b", -1.25}}));
  EXPECT_EQ(p["text_offset"], json({0, 2}));

  // An echoed prompt's first token has no context: null logprob and alternatives.
  const std::vector<TokenLogprobs> echoed{{"", std::nullopt, {}, 0}, {"a", -1.0f, {{"a", -1.0f}}, 0}};
  const json e = completion_response(plain, h, {{"a", "length", echoed}}, {})["choices"][0]["logprobs"];
  EXPECT_EQ(e["token_logprobs"], json({nullptr, -1.0}));
  EXPECT_EQ(e["top_logprobs"], json({nullptr, {{"a", -1.0}}}));
}

// A body within --max-body nesting arrays 400000 deep overflowed the stack
// when the content was copied (nlohmann copies recursively), taking the server down.
TEST(ServerProtocol, DeeplyNestedBodyIsA400) {
  const std::string deep = std::string(400000, '[') + std::string(400000, ']');
  const ApiError e = error_of(R"({"messages":[{"role":"user","content":)" + deep + "}]}", true);
  EXPECT_EQ(e.status, 400);
  EXPECT_NE(std::string(e.what()).find("nested more than 128 levels deep"), std::string::npos) << e.what();
  EXPECT_EQ(error_of(R"({"prompt":)" + std::string(100, '[') + "1" + std::string(100, ']') + "}").status, 400);
}

TEST(ServerProtocol, ErrorBodyHasOpenAIShape) {
  const json body = ApiError(401, "no key", "", "invalid_api_key").body();
  EXPECT_EQ(body["error"]["message"], "no key");
  EXPECT_EQ(body["error"]["type"], "authentication_error");
  EXPECT_TRUE(body["error"]["param"].is_null());
  EXPECT_EQ(body["error"]["code"], "invalid_api_key");
  EXPECT_EQ(ApiError(503, "busy").type(), "server_error");
}

TEST(ServerProtocol, ResponsesAndChunks) {
  CompletionRequest chat;
  chat.chat = true;
  const ResponseHeader h{"id1", 42, "m"};
  const Usage usage{5, 3, 2};
  const json full = completion_response(chat, h, {{"hello", "stop", {}}}, usage);
  EXPECT_EQ(full["object"], "chat.completion");
  EXPECT_EQ(full["choices"][0]["message"]["content"], "hello");
  EXPECT_EQ(full["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(full["usage"]["total_tokens"], 8);
  EXPECT_EQ(full["usage"]["prompt_tokens_details"]["cached_tokens"], 2);

  EXPECT_EQ(stream_chunk(chat, h, 0, "", std::nullopt, true)["choices"][0]["delta"]["role"], "assistant");
  const json middle = stream_chunk(chat, h, 0, "he", std::nullopt);
  EXPECT_EQ(middle["object"], "chat.completion.chunk");
  EXPECT_EQ(middle["choices"][0]["delta"]["content"], "he");
  EXPECT_TRUE(middle["choices"][0]["finish_reason"].is_null());
  EXPECT_EQ(stream_chunk(chat, h, 0, "", "length")["choices"][0]["delta"], json::object());
  EXPECT_TRUE(usage_chunk(chat, h, usage)["choices"].empty());

  const CompletionRequest plain;
  const json text = completion_response(plain, h, {{"hi", "length", {}}}, usage);
  EXPECT_EQ(text["object"], "text_completion");
  EXPECT_EQ(text["choices"][0]["text"], "hi");
  EXPECT_EQ(stream_chunk(plain, h, 0, "x", std::nullopt)["choices"][0]["text"], "x");
}

}  // namespace
}  // namespace lumen::server
