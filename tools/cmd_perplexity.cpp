// `lumen perplexity`: how well a model predicts a text, and (with a base model's logits) how far
// a quantized model's predictions moved — llama-perplexity's measurements.
#include <cstdio>

#include "commands.h"
#include "formats/loaded_model.h"
#include "lumen/lumen.h"
#include "model_options.h"
#include "runtime/perplexity.h"
#include "text_file.h"

namespace lumen::cli {
namespace {

struct PerplexityOptions {
  ModelOptions model;
  std::string text_file;
  std::string base_file;
  bool kl_divergence = false;
  SessionOptions session;
};

void run_perplexity(PerplexityOptions& o) {
  const auto model = o.model.load();
  if (o.session.context_length == 0) o.session.context_length = std::min(512, model->info().context_length);
  Session session(model, o.session);
  std::vector<int32_t> tokens = model->tokenize(read_text_file(o.text_file), true);
  tokens.erase(tokens.begin());  // each window gets its own BOS
  const int32_t vocab = model->info().vocab_size;
  const auto window_logits = [&](std::span<const int32_t> window) { return session.logits(window); };

  if (o.kl_divergence && o.base_file.empty()) fail("--kl-divergence needs --kl-divergence-base FILE");
  const std::optional<BaseLogProbs> base =
      o.kl_divergence ? std::optional(BaseLogProbs::load(o.base_file)) : std::nullopt;
  BaseLogProbs record;
  const bool save = !o.base_file.empty() && !o.kl_divergence;
  const PerplexityResult r = evaluate_perplexity(tokens, session.context_length(), model->loaded().vocab.bos_id,
                                                 vocab, window_logits, base ? &*base : nullptr, save ? &record : nullptr);
  std::printf("perplexity: %.4f +/- %.4f over %lld scored tokens (context %d)\n", r.perplexity, r.perplexity_stderr,
              (long long)r.scored, session.context_length());
  if (base)
    std::printf("KL divergence: %.6f +/- %.6f nats | top-1 agreement: %.2f%%\n", r.kl_divergence, r.kl_stderr,
                100.0 * r.top1_agreement);
  if (save) {
    record.save(o.base_file);
    std::fprintf(stderr, "lumen: wrote base log-probabilities to %s\n", o.base_file.c_str());
  }
}

}  // namespace

void register_perplexity(CLI::App& app) {
  auto o = std::make_shared<PerplexityOptions>();
  CLI::App* cmd = app.add_subcommand("perplexity", "perplexity over a text; KL divergence against a base model");
  o->model.add_to(*cmd);
  cmd->add_option("-f,--file", o->text_file, "text file to score")->required();
  cmd->add_option("--kl-divergence-base", o->base_file,
                  "base model log-probabilities: written by a run without --kl-divergence, read by one with it");
  cmd->add_flag("--kl-divergence", o->kl_divergence, "compare against the base file");
  cmd->add_option("-c,--ctx-size", o->session.context_length, "window size in tokens (default min(512, model's))");
  cmd->add_option("-t,--threads", o->session.threads, "threads (0: all)");
  cmd->callback([o] { run_perplexity(*o); });
}

}  // namespace lumen::cli
