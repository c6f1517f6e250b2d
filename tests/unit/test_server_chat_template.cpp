// The chat-template subset, held to what Jinja (as Hugging Face configures it: trim_blocks,
// lstrip_blocks) renders for the common template styles.
#include <gtest/gtest.h>

#include "server/chat_template.h"
#include "util/error.h"

namespace lumen::server {
namespace {

using json = nlohmann::json;

json conversation(bool with_system = true) {
  json m = json::array();
  if (with_system) m.push_back({{"role", "system"}, {"content", "Be brief."}});
  m.push_back({{"role", "user"}, {"content", " Hi "}});
  m.push_back({{"role", "assistant"}, {"content", "Hello."}});
  m.push_back({{"role", "user"}, {"content", "Bye"}});
  return m;
}

std::string render(const std::string& source, const json& messages, bool add_generation_prompt = true) {
  return ChatTemplate(source).render({{"messages", messages},
                                      {"add_generation_prompt", add_generation_prompt},
                                      {"bos_token", "<s>"},
                                      {"eos_token", "</s>"}});
}

TEST(ChatTemplate, Fallback) {
  EXPECT_EQ(render(kFallbackChatTemplate, conversation()),
            "system: Be brief.\nuser: Hi\nassistant: Hello.\nuser: Bye\nassistant:");
  EXPECT_EQ(render(kFallbackChatTemplate, conversation(), false),
            "system: Be brief.\nuser: Hi\nassistant: Hello.\nuser: Bye\n");
}

// Llama 2's [INST] style: system folded into the first user turn, roles must alternate.
const char* const kLlama2 =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}"
    "{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}"
    "{% set system_message = false %}{% endif %}"
    "{% for message in loop_messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if loop.index0 == 0 and system_message != false %}"
    "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}"
    "{% else %}{% set content = message['content'] %}{% endif %}"
    "{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ ' ' + content.strip() + ' ' + eos_token }}{% endif %}"
    "{% endfor %}";

TEST(ChatTemplate, Llama2) {
  EXPECT_EQ(render(kLlama2, conversation()),
            "<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\n Hi [/INST] Hello. </s><s>[INST] Bye [/INST]");
  EXPECT_EQ(render(kLlama2, conversation(false)), "<s>[INST] Hi [/INST] Hello. </s><s>[INST] Bye [/INST]");
}

TEST(ChatTemplate, RaiseExceptionIsAnError) {
  const json bad = json::parse(R"([{"role":"user","content":"a"},{"role":"user","content":"b"}])");
  try {
    render(kLlama2, bad);
    FAIL() << "rendered";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("must alternate"), std::string::npos);
  }
}

// ChatML written over several lines: trim_blocks drops the newline after each block tag,
// lstrip_blocks the indentation before it, `-` the whitespace on its side.
TEST(ChatTemplate, ChatMLOverSeveralLines) {
  const char* source =
      "{% for message in messages %}\n"
      "    {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' -}}\n"
      "{% endfor %}\n"
      "{% if add_generation_prompt %}\n"
      "    {{- '<|im_start|>assistant\\n' -}}\n"
      "{% endif %}\n";
  EXPECT_EQ(render(source, conversation(false)),
            "<|im_start|>user\n Hi <|im_end|>\n<|im_start|>assistant\nHello.<|im_end|>\n"
            "<|im_start|>user\nBye<|im_end|>\n<|im_start|>assistant\n");
}

// Llama 3's style: filters bind tighter than +, set inside the loop, loop.index0.
TEST(ChatTemplate, Llama3) {
  const char* source =
      "{% set loop_messages = messages %}{% for message in loop_messages %}"
      "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'"
      "+ message['content'] | trim + '<|eot_id|>' %}"
      "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
      "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
  EXPECT_EQ(render(source, json::array({{{"role", "user"}, {"content", " Hi "}}})),
            "<s><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplate, ExpressionsAndTests) {
  const json none = json::array();
  EXPECT_EQ(render("{{ 1 + 2 * 3 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 'a' ~ 1 }}", none), "7 1 2 a1");
  EXPECT_EQ(render("{{ 'x' if messages else 'y' }}", none), "y");
  EXPECT_EQ(render("{{ tools is defined }} {{ tools is not defined }} {{ none is none }}", none), "False True True");
  EXPECT_EQ(render("{{ 'b' in 'abc' }} {{ 2 not in [1, 2] }} {{ not true or 1 < 2 and 'a' != 'b' }}", none),
            "True False True");
  EXPECT_EQ(render("{{ 'AbC' | lower }}{{ 'x' | upper }}{{ [1,2,3] | length }}{{ [1,2] | last }}", none), "abcX32");
  EXPECT_EQ(render("{{ 'hello'[1:3] }}{{ 'hello'[-1] }}{{ [1,2,3][1:] | length }}", none), "elo2");
  EXPECT_EQ(render("{{ missing | default('d') }}{{ missing }}|{{ 'ab'.startswith('a') }}", none), "d|True");
  EXPECT_EQ(render("{# comment #}{{ \"q\\\"\" }}", none), "q\"");
  EXPECT_EQ(render("{% for m in messages %}{{ loop.index }}{{ '-' if not loop.last }}{% endfor %}", conversation()),
            "1-2-3-4");
}

TEST(ChatTemplate, OutsideTheSubsetIsRefusedAtLoad) {
  EXPECT_THROW(ChatTemplate("{% macro f() %}{% endmacro %}"), Error);
  EXPECT_THROW(ChatTemplate("{% for x in y %}"), Error);
  EXPECT_THROW(ChatTemplate("{{ a +  }}"), Error);
  EXPECT_THROW(ChatTemplate("{{ 'open"), Error);
  EXPECT_THROW(ChatTemplate("{{ a ; b }}"), Error);
}

TEST(ChatTemplate, BadOperationsAreErrorsWhenRendered) {
  EXPECT_THROW(render("{{ 'a' + 1 }}", json::array()), Error);
  EXPECT_THROW(render("{{ messages | nosuchfilter }}", json::array()), Error);
  EXPECT_THROW(render("{{ 1 % 0 }}", json::array()), Error);
}

// A GGUF's template is untrusted: hostile ones give a one-line lumen::Error, never a stray
// std::exception, undefined behaviour, a blown stack or unbounded growth.
TEST(ChatTemplate, IntegerLiteralOutOfRangeIsRefusedAtLoad) {
  // std::stoll threw std::out_of_range, which the server's fallback did not catch.
  EXPECT_THROW(ChatTemplate("{{ 99999999999999999999 }}"), Error);
}

TEST(ChatTemplate, IntegerOverflowIsAnError) {
  const json none = json::array();
  EXPECT_THROW(render("{{ 9223372036854775807 + 1 }}", none), Error);
  EXPECT_THROW(render("{{ -9223372036854775807 - 2 }}", none), Error);
  EXPECT_THROW(render("{{ 4611686018427387904 * 2 }}", none), Error);
  EXPECT_THROW(render("{{ -(-9223372036854775807 - 1) }}", none), Error);
  // INT64_MIN % -1 traps on x86; Python's sign convention must not overflow either.
  EXPECT_EQ(render("{{ (-9223372036854775807 - 1) % -1 }} {{ 9223372036854775806 % 9223372036854775807 }}", none),
            "0 9223372036854775806");
  EXPECT_EQ(render("{{ -7 % 3 }} {{ 7 % -3 }} {{ -7 % -3 }}", none), "2 -2 -1");
}

TEST(ChatTemplate, NonIntegerSliceBoundIsAnError) {
  EXPECT_THROW(render("{{ 'abc'[99999999999999999999.0:] }}", json::array()), Error);
}

TEST(ChatTemplate, DeepNestingIsRefusedAtLoad) {
  const auto repeat = [](const std::string& s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
  };
  // Each of these overflowed the stack, parsing or rendering.
  EXPECT_THROW(ChatTemplate("{{ " + repeat("(", 100000) + "1" + repeat(")", 100000) + " }}"), Error);
  EXPECT_THROW(ChatTemplate("{{ " + repeat("not ", 100000) + "1 }}"), Error);
  EXPECT_THROW(ChatTemplate("{{ 1" + repeat(" + 1", 100000) + " }}"), Error);
  EXPECT_THROW(ChatTemplate(repeat("{% if 1 %}", 100000) + repeat("{% endif %}", 100000)), Error);
  // Within the token limit, nesting has its own.
  EXPECT_THROW(ChatTemplate("{{ " + repeat("(", 100) + "1" + repeat(")", 100) + " }}"), Error);
  EXPECT_THROW(ChatTemplate("{{ " + repeat("-", 100) + "1 }}"), Error);
  EXPECT_THROW(ChatTemplate("{{ " + repeat("[", 100) + " }}"), Error);
  EXPECT_EQ(render("{{ " + repeat("(", 20) + "-1" + repeat(")", 20) + " }}", json::array()), "-1");
}

TEST(ChatTemplate, ValuesGrowingWithoutBoundAreAnError) {
  // Each pass doubles s: 2^64 bytes unchecked.
  EXPECT_THROW(render("{% set s = 'ab' %}{% for i in " + json(std::vector<int>(64, 0)).dump() +
                          " %}{% set s = s + s %}{% endfor %}",
                      json::array()),
               Error);
}

// The fuzz driver's first finding: a value holding a newline made a multi-line message.
TEST(ChatTemplate, ErrorsAreOneLineWhateverTheValues) {
  for (const char* source : {"{{ 'a\\nb' + 1 }}", "{{ 'a\\nb' < 1 }}", "{{ raise_exception('two\\nlines') }}"}) {
    try {
      render(source, json::array());
      ADD_FAILURE() << source << " rendered";
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace lumen::server
