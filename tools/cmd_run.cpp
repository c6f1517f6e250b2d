// `lumen run`: generate text from a prompt. stdout carries the prompt and the generated text,
// streamed as produced, and nothing else; timings go to stderr.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "commands.h"
#include "formats/npy.h"
#include "model_options.h"
#include "models/decoder.h"
#include "runtime/generator.h"
#include "tokenizer/spm_tokenizer.h"
#include "util/error.h"

namespace lumen::cli {
namespace {

struct RunOptions {
  ModelOptions model;
  std::string prompt = "Once upon a time";
  std::string prompt_file;
  std::string logits_out;
  int32_t n_predict = -1;
  int32_t threads = int32_t(std::max(1u, std::thread::hardware_concurrency()));
  int32_t context = 0;
  int64_t seed = -1;
  SamplingParams sampling;
};

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open prompt file ", path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_piece(const std::string& piece) {
  std::fwrite(piece.data(), 1, piece.size(), stdout);
  std::fflush(stdout);
}

// Logits of every prompt position, for comparison with other implementations. This is a
// separate pass: generation then prefills the same positions again.
void write_prompt_logits(Decoder& decoder, const std::vector<int32_t>& prompt, const std::string& path) {
  const int64_t vocab = decoder.config().vocab_size;
  std::vector<float> logits(prompt.size() * vocab);
  decoder.forward_all_logits(prompt, 0, logits.data());
  write_npy_f32(path, {int64_t(prompt.size()), vocab}, logits);
}

void run(RunOptions& o) {
  const auto load_start = std::chrono::steady_clock::now();
  auto model = o.model.load();
  const double load_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
  if (!o.prompt_file.empty()) o.prompt = read_text_file(o.prompt_file);
  o.sampling.seed = o.seed >= 0 ? uint64_t(o.seed) : std::random_device{}();

  SpmTokenizer tokenizer(model->vocab);
  const std::vector<int32_t> prompt = tokenizer.encode(o.prompt, true);
  ThreadPool pool(o.threads);
  Decoder decoder(*model, o.context, pool);
  check_prompt_fits(prompt.size(), decoder.context_length());
  const int32_t room = decoder.context_length() - int32_t(prompt.size()) + 1;
  const int32_t budget = o.n_predict < 0 ? room : std::min(o.n_predict, room);

  if (!o.logits_out.empty()) write_prompt_logits(decoder, prompt, o.logits_out);

  // Echo the prompt as its tokens decode, so the text reads the same as the model saw it.
  for (size_t i = 1; i < prompt.size(); ++i) write_piece(tokenizer.decode_piece(prompt[i - 1], prompt[i]));
  Sampler sampler(o.sampling, model->config.vocab_size);
  Generator generator(decoder, model->vocab.bos_id, model->vocab.eos_id);
  std::vector<int32_t> tokens;
  GenerationStats stats;
  int32_t previous = prompt.back();
  generator.generate(prompt, budget, sampler, [&](int32_t t) {
    write_piece(tokenizer.decode_piece(previous, t));
    previous = t;
  }, tokens, stats);
  write_piece("\n");

  std::fprintf(stderr, "lumen: load %.3f s | prompt %d tokens, %.1f tokens/s | generated %d tokens, %.1f tokens/s | %d threads\n",
               load_seconds, stats.prompt_tokens, stats.prompt_tokens / std::max(stats.prompt_seconds, 1e-9),
               stats.generated_tokens, stats.generated_tokens / std::max(stats.generate_seconds, 1e-9), o.threads);
}

}  // namespace

void register_run(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "generate text from a prompt");
  o->model.add_to(*cmd);
  cmd->add_option("-p,--prompt", o->prompt, "prompt text")->capture_default_str();
  cmd->add_option("-f,--file", o->prompt_file, "read the prompt from a file");
  cmd->add_option("--logits-out", o->logits_out, "write the float32 logits of every prompt position to a .npy file");
  cmd->add_option("-n,--n-predict", o->n_predict, "tokens to generate (-1: until end of text or context)")
      ->capture_default_str();
  cmd->add_option("-t,--threads", o->threads, "threads")->capture_default_str()->check(CLI::Range(1, 1024));
  cmd->add_option("-c,--ctx-size", o->context, "context size in tokens (0: the model's)")->check(CLI::Range(0, 1 << 24));
  cmd->add_option("--temp", o->sampling.temperature, "temperature (0: greedy)")->capture_default_str();
  cmd->add_option("--top-k", o->sampling.top_k, "top-k (0: off)")->capture_default_str();
  cmd->add_option("--top-p", o->sampling.top_p, "top-p (1: off)")->capture_default_str();
  cmd->add_option("--min-p", o->sampling.min_p, "min-p (0: off)")->capture_default_str();
  cmd->add_option("--repeat-penalty", o->sampling.repeat_penalty, "repetition penalty (1: off)")->capture_default_str();
  cmd->add_option("--repeat-last-n", o->sampling.repeat_last_n, "tokens the penalty looks back over")->capture_default_str();
  cmd->add_option("-s,--seed", o->seed, "random seed (-1: random)")->capture_default_str();
  cmd->callback([o] { run(*o); });
}

}  // namespace lumen::cli
