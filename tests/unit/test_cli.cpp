// The `lumen` command as a user meets it: what goes to stdout and stderr, and the exit code.
#include <gtest/gtest.h>

#include "cli_runner.h"
#include "golden_file.h"
#include "runtime/json_prefix.h"
#include "test_paths.h"

namespace lumen {
namespace {

using test::run_lumen;

test::GoldenCase golden_case(const std::string& prompt) {
  for (const auto& c : test::read_goldens(test::source_path("tests/data/goldens/stories260K.golden.txt")))
    if (c.prompt == prompt) return c;
  ADD_FAILURE() << "no golden case for prompt '" << prompt << "'";
  return {};
}

TEST(Cli, RunWithNoModelTellsTheGoldenStoryOnStdoutOnly) {
  const auto c = golden_case("");
  // run.c's 256 steps from BOS = 256 generated tokens.
  const auto r = run_lumen({"run", "-p", "", "-n", "256", "--temp", "0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, c.text + "\n");
  EXPECT_NE(r.err.find("tokens/s"), std::string::npos) << "timings belong on stderr";
}

TEST(Cli, RunEchoesThePromptThenContinuesIt) {
  const auto c = golden_case("Once upon a time");
  const auto r = run_lumen({"run", "-p", "Once upon a time", "-n", "40", "--temp", "0", "-t", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_GE(r.out.size(), 20u);
  EXPECT_EQ(r.out.substr(0, 16), "Once upon a time");
  EXPECT_EQ(c.text.substr(0, r.out.size() - 1), r.out.substr(0, r.out.size() - 1));
  EXPECT_NE(r.err.find("generated 40 tokens"), std::string::npos) << r.err;
}

TEST(Cli, SameSeedSameStory) {
  const std::vector<std::string> args{"run", "-n", "30", "--temp", "1.0", "-s", "42"};
  const auto a = run_lumen(args), b = run_lumen(args);
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out, b.out);
}

TEST(Cli, PromptLongerThanTheContextIsRefused) {
  const auto r = run_lumen({"run", "-c", "8", "-p", "Once upon a time there was a big dog and a cat"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("does not fit the context"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST(Cli, GenerationStopsAtTheContextEnd) {
  // -c 16 with a 5-token prompt leaves room for 12 tokens (positions 0..15 fed, one more sampled).
  const auto r = run_lumen({"run", "-c", "16", "-n", "100", "--temp", "0", "-p", "Once upon a time"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("generated 12 tokens"), std::string::npos) << r.err;
}

TEST(Cli, BeamSearchPrintsThePromptAndTheBestHypothesis) {
  const auto r = run_lumen({"run", "-p", "Once upon a time", "-n", "30", "--beams", "4", "--length-penalty", "0.5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 16), "Once upon a time");
  EXPECT_GT(r.out.size(), 40u);
  EXPECT_EQ(r.out.back(), '\n');
  EXPECT_NE(r.err.find("best of 4 beams"), std::string::npos) << r.err;
}

// JSON mode through the library's Session: what follows the prompt is the start of a JSON object
// (the checker, JsonPrefix, is held against nlohmann in test_json_prefix.cpp); without --json the
// story model writes prose.
TEST(Cli, JsonModeWritesJson) {
  for (const bool json : {true, false}) {
    std::vector<std::string> args{"run", "-p", "Once upon a time", "-n", "40", "--temp", "0"};
    if (json) args.push_back("--json");
    const auto r = run_lumen(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_EQ(r.out.substr(0, 16), "Once upon a time");
    const std::string generated = r.out.substr(16, r.out.size() - 17);  // less the final newline
    JsonPrefix checker;
    EXPECT_EQ(checker.push(generated), json) << generated;
    if (json) {
      EXPECT_NE(generated.find('{'), std::string::npos) << generated;
    }
  }
}

TEST(Cli, BadBeamOptionsAreOneLineErrors) {
  const std::vector<std::vector<std::string>> cases{
      {"--beams", "0"}, {"--beams", "-3"}, {"--beams", "65"}, {"--beams", "1000000"},
      {"--beams", "4", "--temp", "0.5"}, {"--beams", "2", "-s", "7"}, {"--length-penalty", "2"}, {"--beams", "2", "--json"}};
  for (const auto& c : cases) {
    std::vector<std::string> args{"run", "-n", "4"};
    for (const auto& a : c) args.push_back(a);
    const auto r = run_lumen(args);
    EXPECT_EQ(r.exit_code, 1) << c[0] << " " << c[1];
    EXPECT_EQ(r.out, "");
    EXPECT_TRUE(r.err.starts_with("lumen: error: ")) << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "one line: " << r.err;
  }
}

TEST(Cli, MissingModelFileIsAOneLineError) {
  const auto r = run_lumen({"run", "-m", "/nonexistent/model.gguf"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent/model.gguf"), std::string::npos);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(Cli, InspectPrintsShapesAndCosts) {
  const auto r = run_lumen({"inspect", test::source_path("models/stories260K.bin"), "-z",
                            test::source_path("models/tok512.bin")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("dim 64 | hidden 172 | layers 5 | heads 8 | kv heads 4"), std::string::npos) << r.out;
  // Seed 001: 2 (K and V) x 5 layers x kv_dim (4 heads x 8) x 2 bytes (f16) = 640 bytes per token.
  EXPECT_NE(r.out.find("KV cache: 640 bytes per token in f16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("blk.4.ffn_down.weight"), std::string::npos);
}

TEST(Cli, BenchPrintsLlamaBenchFieldsAsJsonLines) {
  const auto r = run_lumen({"bench", "-p", "8", "-n", "4", "-r", "1", "-t", "1", "-o", "jsonl"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;  // pp8 and tg4
  for (const char* field : {"\"n_prompt\":8", "\"n_gen\":4", "\"n_threads\":1", "\"avg_ts\":", "\"stddev_ts\":",
                            "\"roofline_ts\":"})
    EXPECT_NE(r.out.find(field), std::string::npos) << field << " in " << r.out;
}

TEST(Cli, BenchRejectsAnUnknownOutputFormat) {
  const auto r = run_lumen({"bench", "-p", "8", "-n", "0", "-r", "1", "-o", "xml"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unknown output format 'xml'"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace lumen
