// What the server checks against the model before the engine sees a request, and how a
// request's generated tokens become the text and usage a client receives.
#include <gtest/gtest.h>

#include "formats/gguf_model.h"
#include "formats/loaded_model.h"
#include "model_file_helpers.h"
#include "server/generation.h"
#include "server/prompt_builder.h"
#include "test_paths.h"
#include "tokenizer/spm_tokenizer.h"

namespace lumen::server {
namespace {

using json = nlohmann::json;

std::shared_ptr<const Model> bundled_model() {
  static auto model = Model::load(test::source_path("models/stories260K.bin"), test::source_path("models/tok512.bin"));
  return model;
}

ApiError build_error(const PromptBuilder& b, const std::string& body, bool chat = false) {
  try {
    b.build(parse_completion_request(body, chat));
  } catch (const ApiError& e) {
    return e;
  }
  return ApiError(0, "built");
}

TEST(ServerPrompt, CompletionPrompt) {
  const PromptBuilder b(bundled_model(), 64);
  const RequestParams p = b.build(parse_completion_request(R"({"prompt":"Once upon a time","temperature":0})", false));
  EXPECT_EQ(p.prompt, bundled_model()->tokenize("Once upon a time"));
  EXPECT_EQ(p.max_tokens, 16);  // OpenAI's default for completions
  EXPECT_EQ(p.sampling.temperature, 0.0f);
}

TEST(ServerPrompt, ChatUsesTheFallbackTranscriptAndTheRestOfTheContext) {
  const PromptBuilder b(bundled_model(), 64);
  EXPECT_TRUE(b.warning().empty());
  EXPECT_EQ(b.render_chat(json::parse(R"([{"role":"user","content":"Hi"}])")), "user: Hi\nassistant:");
  const RequestParams p = b.build(parse_completion_request(R"({"messages":[{"role":"user","content":"Hi"}]})", true));
  EXPECT_EQ(p.prompt, bundled_model()->tokenize("user: Hi\nassistant:"));
  EXPECT_EQ(p.max_tokens, 64 - int32_t(p.prompt.size()));
}

TEST(ServerPrompt, ModelChecksAre400s) {
  const PromptBuilder b(bundled_model(), 16);
  std::string long_prompt;
  for (int i = 0; i < 40; ++i) long_prompt += "word ";
  const ApiError too_long = build_error(b, json({{"prompt", long_prompt}}).dump());
  EXPECT_EQ(too_long.status, 400);
  EXPECT_EQ(too_long.code, "context_length_exceeded");
  EXPECT_EQ(build_error(b, R"({"prompt":"x","max_tokens":17})").param, "max_tokens");
  EXPECT_EQ(build_error(b, R"({"prompt":[1, 999999]})").param, "prompt");
  EXPECT_EQ(build_error(b, R"({"prompt":"x","logit_bias":{"100000":1}})").param, "logit_bias");
  // max_tokens within the context but beyond the room left: generation stops at the context.
  EXPECT_EQ(b.build(parse_completion_request(R"({"prompt":"x","max_tokens":16})", false)).max_tokens,
            16 - int32_t(bundled_model()->tokenize("x").size()));
}

// The bundled model written as GGUF with `tokenizer.chat_template` set to `source`.
std::shared_ptr<const Model> model_with_template(const test::ScratchDir& dir, const std::string& source) {
  auto loaded = load_model(test::source_path("models/stories260K.bin"), test::source_path("models/tok512.bin"));
  loaded->vocab.chat_template = source;
  const std::string path = dir.path("templated.gguf");
  write_gguf_model(*loaded, path);
  return Model::load(path);
}

TEST(ServerPrompt, UsesTheModelsTemplateWithoutADoubleBos) {
  const test::ScratchDir dir;
  const PromptBuilder b(model_with_template(dir, "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}"
                                                 "{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}"),
                        64);
  EXPECT_TRUE(b.warning().empty());
  EXPECT_EQ(b.render_chat(json::parse(R"([{"role":"user","content":"Hi"}])")), "[user]Hi[assistant]");
}

TEST(ServerPrompt, TemplateOutsideTheSubsetFallsBackWithAWarning) {
  const test::ScratchDir dir;
  const PromptBuilder b(model_with_template(dir, "{% macro m() %}{% endmacro %}"), 64);
  EXPECT_NE(b.warning().find("not supported"), std::string::npos);
  EXPECT_EQ(b.render_chat(json::parse(R"([{"role":"user","content":"Hi"}])")), "user: Hi\nassistant:");
}

TEST(ServerPrompt, TemplateErrorsAre400s) {
  const test::ScratchDir dir;
  const PromptBuilder b(model_with_template(dir, "{{ raise_exception('no system messages') }}"), 64);
  const ApiError e = build_error(b, R"({"messages":[{"role":"system","content":"x"}]})", true);
  EXPECT_EQ(e.status, 400);
  EXPECT_NE(std::string(e.what()).find("no system messages"), std::string::npos);
}

TokenEvent event(int32_t token, FinishReason finish = FinishReason::None) {
  TokenEvent e;
  e.token = token;
  e.finish = finish;
  e.prompt_tokens = 4;
  e.cached_prompt_tokens = 2;
  return e;
}

// A request with one choice, as n = 1 makes.
struct OneChoice {
  Choices choices;
  TokenCallback callback;
  explicit OneChoice(int32_t last_prompt_token, bool logprobs = false, const std::vector<std::string>& stops = {})
      : choices(1, bundled_model()->tokenizer(), last_prompt_token, stops, logprobs), callback(choices.callbacks()[0]) {}
  Generation::Update take() { return choices.take(std::chrono::milliseconds(0))[0]; }
};

TEST(ServerGeneration, TextUsageAndFinish) {
  const std::vector<int32_t> ids = bundled_model()->tokenize("Once upon a time", false);
  OneChoice g(1);
  TokenCallback& cb = g.callback;
  for (size_t i = 0; i < ids.size(); ++i)
    EXPECT_TRUE(cb(event(ids[i], i + 1 == ids.size() ? FinishReason::Length : FinishReason::None)));
  const Generation::Update u = g.take();
  EXPECT_EQ(u.text, "Once upon a time");
  EXPECT_TRUE(u.finished);
  EXPECT_EQ(u.finish_reason, "length");
  EXPECT_EQ(u.usage.completion_tokens, int32_t(ids.size()));
  EXPECT_EQ(u.usage.prompt_tokens, 4);
  EXPECT_EQ(u.usage.cached_tokens, 2);
}

// Each token's log-probabilities arrive with its text: its piece, the alternatives' pieces
// (decoded after the same previous token) and the byte offset of its piece in the completion.
TEST(ServerGeneration, LogprobsComeAsText) {
  const std::vector<int32_t> ids = bundled_model()->tokenize("Once upon", false);
  ASSERT_EQ(ids.size(), 2u);
  OneChoice g(1, true);
  TokenCallback& cb = g.callback;
  TokenEvent first = event(ids[0]);
  first.logprob = -0.25f;
  first.top_logprobs = {{ids[0], -0.25f}, {ids[1], -2.5f}};
  EXPECT_TRUE(cb(first));
  TokenEvent second = event(ids[1], FinishReason::Length);
  second.logprob = -1.5f;
  EXPECT_TRUE(cb(second));
  const Generation::Update u = g.take();
  ASSERT_EQ(u.logprobs.size(), 2u);
  EXPECT_EQ(u.logprobs[0].token, "Once");
  EXPECT_EQ(u.logprobs[0].logprob, -0.25f);
  EXPECT_EQ(u.logprobs[0].top, (std::vector<std::pair<std::string, float>>{{"Once", -0.25f}, {"upon", -2.5f}}));
  EXPECT_EQ(u.logprobs[0].text_offset, 0);
  EXPECT_EQ(u.logprobs[1].token, " upon");
  EXPECT_EQ(u.logprobs[1].logprob, -1.5f);
  EXPECT_TRUE(u.logprobs[1].top.empty());
  EXPECT_EQ(u.logprobs[1].text_offset, 4);
  EXPECT_TRUE(g.take().logprobs.empty());  // taken once

  // Offsets count characters: "é" comes as two byte tokens, one character.
  OneChoice accented(1, true);
  const std::vector<int32_t> text = bundled_model()->tokenize("upon é!", false);
  for (int32_t id : text) EXPECT_TRUE(accented.callback(event(id)));
  const Generation::Update a = accented.take();
  EXPECT_EQ(a.text, "upon é!");
  ASSERT_EQ(a.logprobs.back().token, "!");
  EXPECT_EQ(a.logprobs.back().text_offset, 6);

  OneChoice without(1);
  EXPECT_TRUE(without.callback(first));
  EXPECT_TRUE(without.take().logprobs.empty());
}

// Echo: the prompt's text leads the first update; with logprobs its tokens lead the entries,
// the first (BOS, no text) without a value, the others with the engine's scores.
TEST(ServerGeneration, EchoLeadsTextAndLogprobs) {
  const std::vector<int32_t> prompt = bundled_model()->tokenize("Once upon", true);
  ASSERT_EQ(prompt.size(), 3u);
  OneChoice g(prompt.back(), true);
  g.choices[0].echo(prompt);
  TokenEvent first = event(bundled_model()->tokenize("Once upon a", true).back(), FinishReason::Length);
  first.logprob = -0.5f;
  first.prompt_logprobs = {{prompt[1], -0.25f, {{prompt[1], -0.25f}}}, {prompt[2], -1.5f, {}}};
  EXPECT_TRUE(g.callback(first));
  const Generation::Update u = g.take();
  EXPECT_EQ(u.text, "Once upon a");
  ASSERT_EQ(u.logprobs.size(), 4u);
  EXPECT_EQ(u.logprobs[0].token, "");
  EXPECT_FALSE(u.logprobs[0].logprob);
  EXPECT_EQ(u.logprobs[1].token, "Once");
  EXPECT_EQ(u.logprobs[1].logprob, -0.25f);
  EXPECT_EQ(u.logprobs[1].top, (std::vector<std::pair<std::string, float>>{{"Once", -0.25f}}));
  EXPECT_EQ(u.logprobs[2].token, " upon");
  EXPECT_EQ(u.logprobs[2].text_offset, 4);
  EXPECT_EQ(u.logprobs[3].token, " a");
  EXPECT_EQ(u.logprobs[3].logprob, -0.5f);
  EXPECT_EQ(u.logprobs[3].text_offset, 9);

  // A prompt of one token has nothing scored, yet its entry comes.
  OneChoice bos(prompt[0], true);
  bos.choices[0].echo(std::span(prompt).first(1));
  EXPECT_TRUE(bos.callback(event(-1, FinishReason::Length)));
  EXPECT_EQ(bos.take().logprobs.size(), 1u);

  OneChoice text_only(prompt.back());
  text_only.choices[0].echo(prompt);
  EXPECT_EQ(text_only.take().text, "");  // it waits for the first event
  EXPECT_TRUE(text_only.callback(event(-1, FinishReason::Length)));
  EXPECT_EQ(text_only.take().text, "Once upon");
}

TEST(ServerGeneration, StopStringCancelsTheRequest) {
  const std::vector<int32_t> ids = bundled_model()->tokenize("Once upon a time", false);
  OneChoice g(1, false, {"pon"});
  TokenCallback& cb = g.callback;
  bool going = true;
  for (size_t i = 0; i < ids.size() && going; ++i) going = cb(event(ids[i]));
  EXPECT_FALSE(going);
  const Generation::Update u = g.take();
  EXPECT_EQ(u.text, "Once u");
  EXPECT_EQ(u.finish_reason, "stop");
}

TEST(ServerGeneration, EndOfSequenceAndClientCancel) {
  OneChoice g(1);
  TokenCallback& cb = g.callback;
  EXPECT_TRUE(cb(event(bundled_model()->tokenize("Hi", false)[0])));
  g.choices.cancel();
  EXPECT_FALSE(cb(event(5)));  // the engine frees the request on this false
  EXPECT_FALSE(g.take().finished);

  OneChoice done(1);
  done.callback(event(-1, FinishReason::EndOfSequence));
  EXPECT_EQ(done.take().finish_reason, "stop");
}

// A request's choices wake one waiting thread: news from any of them ends the wait, and a
// finished choice is news once (after that the others are waited for).
TEST(ServerGeneration, ChoicesAreTakenTogether) {
  Choices choices(2, bundled_model()->tokenizer(), 1, {}, false);
  const std::vector<TokenCallback> callbacks = choices.callbacks();
  const int32_t once = bundled_model()->tokenize("Once", false)[0];
  EXPECT_TRUE(callbacks[1](event(once, FinishReason::Length)));
  std::vector<Generation::Update> u = choices.take(std::chrono::milliseconds(0));
  ASSERT_EQ(u.size(), 2u);
  EXPECT_EQ(u[0].text, "");
  EXPECT_FALSE(u[0].finished);
  EXPECT_EQ(u[1].text, "Once");
  EXPECT_TRUE(u[1].finished);
  const auto start = std::chrono::steady_clock::now();
  u = choices.take(std::chrono::milliseconds(60));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(50));  // nothing new: it waited
  EXPECT_TRUE(u[1].finished);  // still reported, as state
  EXPECT_TRUE(callbacks[0](event(once, FinishReason::Length)));
  u = choices.take(std::chrono::milliseconds(10000));
  EXPECT_EQ(u[0].text, "Once");
  const Usage usage = combined_usage(u);
  EXPECT_EQ(usage.prompt_tokens, 4);  // once, not per choice
  EXPECT_EQ(usage.cached_tokens, 2);
  EXPECT_EQ(usage.completion_tokens, 2);  // every choice's tokens
}

// best_of keeps the candidates with the highest log-probability per token (not in total: a
// longer answer is not penalised for its length), ties in submission order.
TEST(ServerGeneration, BestCandidatesRankByMeanLogprob) {
  std::vector<Generation::Update> c(4);
  const auto set = [&](size_t i, double sum, int32_t tokens) {
    c[i].logprob_sum = sum;
    c[i].usage.completion_tokens = tokens;
  };
  set(0, -6.0, 3);   // -2 per token
  set(1, -10.0, 10); // -1 per token, the lowest total
  set(2, -3.0, 1);   // -3
  set(3, -2.0, 2);   // -1, ties with 1
  EXPECT_EQ(best_candidates(c, 2), (std::vector<size_t>{1, 3}));
  EXPECT_EQ(best_candidates(c, 4), (std::vector<size_t>{1, 3, 0, 2}));
}

}  // namespace
}  // namespace lumen::server
