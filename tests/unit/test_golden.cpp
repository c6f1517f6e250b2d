// Greedy generation against llama2.c's own output (tests/data/goldens): token ids identical for
// every case, and for the trained stories260K the printed text identical too.
#include <gtest/gtest.h>

#include "formats/gguf_model.h"
#include "formats/loaded_model.h"
#include "golden_file.h"
#include "models/decoder.h"
#include "runtime/generator.h"
#include "test_paths.h"
#include "tokenizer/spm_tokenizer.h"

namespace lumen {
namespace {

// How the model reaches the engine: as the file is, or after `lumen convert` to GGUF.
enum class Route { AsIs, ConvertedToGguf };

struct GoldenModel {
  std::string golden, model, tokenizer;
  bool compare_text;
  Route route = Route::AsIs;
};

std::unique_ptr<LoadedModel> open(const GoldenModel& g) {
  auto model = load_model(g.model, g.tokenizer);
  if (g.route == Route::AsIs) return model;
  const std::string gguf = ::testing::TempDir() + "golden_" + std::to_string(::getpid()) + "_" +
                           g.golden.substr(0, g.golden.find('.')) + ".gguf";
  write_gguf_model(*model, gguf);
  auto converted = load_model(gguf);
  std::remove(gguf.c_str());  // the mapping stays valid after the path is unlinked
  return converted;
}

// Replays one golden case as run.c does: `steps` positions, greedy, stop on BOS.
void check_case(const LoadedModel& model, const test::GoldenCase& c, bool compare_text, int threads) {
  SpmTokenizer tokenizer(model.vocab);
  const std::vector<int32_t> prompt = tokenizer.encode(c.prompt, true);
  ASSERT_EQ(prompt, c.prompt_ids) << "prompt '" << c.prompt << "' encodes differently";

  ThreadPool pool(threads);
  // llama2.c keeps its cache in float32; so does this comparison.
  SequenceRunner runner(model, 0, pool, {DType::F32, DType::F32});
  Generator generator(runner, model.vocab.bos_id, model.vocab.eos_id);
  SamplingParams greedy;
  greedy.temperature = 0.0f;
  Sampler sampler(greedy, model.config.vocab_size);
  std::vector<int32_t> tokens;
  GenerationStats stats;
  // run.c feeds positions 0..steps-1 and samples after each from the last prompt token on.
  const int32_t budget = c.steps - int32_t(prompt.size()) + 1;
  generator.generate(prompt, budget, sampler, [](int32_t) {}, tokens, stats);
  EXPECT_EQ(tokens, c.sequence_ids) << "prompt '" << c.prompt << "'";
  if (compare_text) {
    std::string text;
    for (size_t i = 1; i < tokens.size(); ++i) text += tokenizer.decode_piece(tokens[i - 1], tokens[i]);
    EXPECT_EQ(text, c.text) << "prompt '" << c.prompt << "'";
  }
}

class Golden : public ::testing::TestWithParam<std::tuple<GoldenModel, int>> {};

TEST_P(Golden, GreedyTokensMatchLlama2c) {
  const auto& [g, threads] = GetParam();
  auto model = open(g);
  const auto cases = test::read_goldens(test::source_path("tests/data/goldens/" + g.golden));
  ASSERT_GE(cases.size(), 3u);
  for (const auto& c : cases) check_case(*model, c, g.compare_text, threads);
}

INSTANTIATE_TEST_SUITE_P(
    Llama2c, Golden,
    ::testing::Combine(
        ::testing::Values(GoldenModel{"stories260K.golden.txt", test::source_path("models/stories260K.bin"),
                                      test::source_path("models/tok512.bin"), true},
                          GoldenModel{"rand-mha.golden.txt", test::generated_model_path("rand-mha.bin"),
                                      test::source_path("models/tokenizer.bin"), false},
                          GoldenModel{"rand-gqa.golden.txt", test::generated_model_path("rand-gqa.bin"),
                                      test::source_path("models/tokenizer.bin"), false},
                          // llama.cpp's own conversion of stories260K
                          GoldenModel{"stories260K.golden.txt", test::source_path("models/stories260K.gguf"), "", true},
                          // lumen convert's output, for each checkpoint
                          GoldenModel{"stories260K.golden.txt", test::source_path("models/stories260K.bin"),
                                      test::source_path("models/tok512.bin"), true, Route::ConvertedToGguf},
                          GoldenModel{"rand-mha.golden.txt", test::generated_model_path("rand-mha.bin"),
                                      test::source_path("models/tokenizer.bin"), false, Route::ConvertedToGguf},
                          GoldenModel{"rand-gqa.golden.txt", test::generated_model_path("rand-gqa.bin"),
                                      test::source_path("models/tokenizer.bin"), false, Route::ConvertedToGguf}),
        ::testing::Values(1, 2)),
    [](const auto& info) {
      const GoldenModel& g = std::get<0>(info.param);
      std::string name = g.golden.substr(0, g.golden.find('.'));
      name += g.route == Route::ConvertedToGguf ? "_converted" : (g.model.ends_with(".gguf") ? "_llamacpp_gguf" : "");
      for (char& ch : name)
        if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return name + "_threads" + std::to_string(std::get<1>(info.param));
    });

}  // namespace
}  // namespace lumen
