// `lumen run`: generate text from a prompt. stdout carries the prompt and the generated text,
// streamed as produced (with --beams, all at the end), and nothing else; timings go to stderr.
#include <chrono>
#include <cstdio>
#include <random>

#include "beam_flags.h"
#include "commands.h"
#include "formats/npy.h"
#include "lumen/lumen.h"
#include "model_options.h"
#include "text_file.h"

namespace lumen::cli {
namespace {

struct RunOptions {
  ModelOptions model;
  std::string prompt = "Once upon a time";
  std::string prompt_file;
  std::string logits_out;
  std::string tokens_out;
  SessionOptions session;
  GenerateOptions generate;
  int64_t seed = -1;
  BeamFlags beam;  // 1 beam: sample (or greedy) as without --beams
};

void write_piece(std::string_view piece) {
  std::fwrite(piece.data(), 1, piece.size(), stdout);
  std::fflush(stdout);
}

void write_tokens(const std::string& path, const std::vector<int32_t>& tokens) {  // space-separated, one line
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) throw Error("cannot write " + path);
  for (size_t i = 0; i < tokens.size(); ++i) std::fprintf(f, i ? " %d" : "%d", tokens[i]);
  std::fputc('\n', f);
  if (std::fclose(f) != 0) throw Error("cannot write " + path);
}

// Beam search prints the best hypothesis once the search is over: until then any beam may win.
GenerateResult search(Session& session, const Model& model, const RunOptions& o) {
  const BeamOptions beam{o.beam.beams, o.generate.max_tokens, o.beam.length_penalty};
  const BeamResult r = session.beam_search(o.prompt, beam);
  write_piece(model.detokenize(r.prompt_tokens));
  write_piece(r.text);
  write_piece("\n");
  std::fprintf(stderr, "lumen: best of %d beams scores %.6f | %d beam tokens, %.1f tokens/s\n", o.beam.beams, r.score,
               r.beam_tokens, r.beam_tokens / std::max(r.generate_seconds, 1e-9));
  return r;
}

void run(RunOptions& o) {
  const auto load_start = std::chrono::steady_clock::now();
  auto model = o.model.load();
  const double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
  if (!o.prompt_file.empty()) o.prompt = read_text_file(o.prompt_file);
  o.generate.seed = o.seed >= 0 ? uint64_t(o.seed) : std::random_device{}();

  Session session(model, o.session);
  if (!o.logits_out.empty()) {
    // A separate pass over the prompt: generation then prefills the same positions again.
    const auto tokens = model->tokenize(o.prompt);
    write_npy_f32(o.logits_out, {int64_t(tokens.size()), model->info().vocab_size}, session.logits(tokens));
  }
  o.generate.echo = true;
  GenerateResult r;
  if (o.beam.beams != 1) {
    r = search(session, *model, o);
  } else {
    r = session.generate(o.prompt, o.generate, write_piece);
    write_piece("\n");
  }
  if (!o.tokens_out.empty()) write_tokens(o.tokens_out, r.tokens);
  std::fprintf(stderr,
               "lumen: load %.3f s | prompt %zu tokens, %.1f tokens/s | generated %zu tokens, %.1f tokens/s | "
               "%d threads\n",
               load_seconds, r.prompt_tokens.size(), r.prompt_tokens.size() / std::max(r.prompt_seconds, 1e-9),
               r.tokens.size(), r.tokens.size() / std::max(r.generate_seconds, 1e-9), session.threads());
}

}  // namespace

void register_run(CLI::App& app) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "generate text from a prompt");
  o->model.add_to(*cmd);
  auto* prompt = cmd->add_option("-p,--prompt", o->prompt, "prompt text")->capture_default_str();
  cmd->add_option("-f,--file", o->prompt_file, "read the prompt from a file")->excludes(prompt);
  cmd->add_option("-n,--n-predict", o->generate.max_tokens, "tokens to generate (-1: until end of text or context)")
      ->capture_default_str();
  cmd->add_option("-t,--threads", o->session.threads, "threads (0: all)")->check(CLI::Range(0, 1024));
  cmd->add_option("-c,--ctx-size", o->session.context_length, "context size in tokens (0: the model's)")
      ->check(CLI::Range(0, 1 << 24));
  const std::vector<CLI::Option*> sampling{
      cmd->add_option("--temp", o->generate.temperature, "temperature (0: greedy)")->capture_default_str(),
      cmd->add_option("--top-k", o->generate.top_k, "top-k (0: off)")->capture_default_str(),
      cmd->add_option("--top-p", o->generate.top_p, "top-p (1: off)")->capture_default_str(),
      cmd->add_option("--min-p", o->generate.min_p, "min-p (0: off)")->capture_default_str(),
      cmd->add_option("--repeat-penalty", o->generate.repeat_penalty, "repetition penalty (1: off)")
          ->capture_default_str(),
      cmd->add_option("--repeat-last-n", o->generate.repeat_last_n, "tokens the penalty looks back over")
          ->capture_default_str(),
      cmd->add_option("-s,--seed", o->seed, "random seed (-1: random)")->capture_default_str()};
  cmd->add_option("--cache-type-k", o->session.cache_type_k, "KV cache type for keys: f16, f32, q8_0")->capture_default_str();
  cmd->add_option("--cache-type-v", o->session.cache_type_v, "KV cache type for values: f16, f32, q8_0")->capture_default_str();
  cmd->add_option("--logits-out", o->logits_out, "write the float32 logits of every prompt position to a .npy file");
  cmd->add_option("--tokens-out", o->tokens_out, "write the generated token ids (space-separated) to a text file");
  const CLI::Option* json = cmd->add_flag(
      "--json", o->generate.json, "JSON mode: the output is a JSON object (or, cut short by -n, the start of one)");
  o->beam.add_to(*cmd, "deterministic, so the sampling options do not apply; 1: sample as without it");
  cmd->callback([o, sampling, json] {
    o->beam.check(sampling, "which does not sample");
    o->beam.check(std::span(&json, 1), "which keeps to no grammar");
    run(*o);
  });
}

}  // namespace lumen::cli
