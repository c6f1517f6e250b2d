// `lumen perplexity`: how well a model predicts a text, and (with a base model's logits) how far
// a quantized model's predictions moved — llama-perplexity's measurements.
#include <algorithm>
#include <cstdio>
#include <optional>

#include "commands.h"
#include "formats/loaded_model.h"
#include "lumen/lumen.h"
#include "model_options.h"
#include "runtime/perplexity.h"
#include "text_file.h"
#include "tokenizer/vocab.h"

namespace lumen::cli {
namespace {

struct PerplexityOptions {
  ModelOptions model;
  std::string text_file;
  std::string base_file;
  bool kl_divergence = false;
  int32_t window = 0;  // -c; 0: the default
  SessionOptions session;
};

void run_perplexity(PerplexityOptions& o) {
  if (o.kl_divergence && o.base_file.empty()) fail("--kl-divergence needs --kl-divergence-base FILE");
  const std::optional<BaseLogProbs> base =
      o.kl_divergence ? std::optional(BaseLogProbs::load(o.base_file)) : std::nullopt;
  const auto model = o.model.load();
  // Windows as llama-perplexity sizes them: the base file's, else 512 tokens (or the model's
  // context when that is shorter).
  const int32_t window = o.window ? o.window : base ? base->context : std::min(512, model->info().context_length);
  o.session.context_length = window;
  Session session(model, o.session);
  // The text is tokenized as llama-perplexity tokenizes it, with the BOS the vocabulary adds;
  // evaluate_perplexity puts BOS at the start of every window.
  const Vocab& v = model->loaded().vocab;
  const std::vector<int32_t> tokens = model->tokenize(read_text_file(o.text_file), true);
  const int32_t vocab = model->info().vocab_size;
  const auto window_logits = [&](std::span<const int32_t> w) { return session.logits(w); };

  BaseLogProbs record;
  const bool save = !o.base_file.empty() && !o.kl_divergence;
  const PerplexityResult r = evaluate_perplexity(tokens, window, v.add_bos ? v.bos_id : -1, vocab, window_logits,
                                                 base ? &*base : nullptr, save ? &record : nullptr);
  std::printf("perplexity: %.4f +/- %.4f over %lld scored tokens (context %d)\n", r.perplexity, r.perplexity_stderr,
              (long long)r.scored, window);
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
  cmd->add_option("-c,--ctx-size", o->window, "window size in tokens (default 512, or the base file's)")
      ->check(CLI::Range(4, 1 << 24));
  cmd->add_option("-t,--threads", o->session.threads, "threads (0: all)");
  cmd->add_option("--cache-type-k", o->session.cache_type_k, "KV cache type for keys: f16, f32, q8_0")
      ->capture_default_str();
  cmd->add_option("--cache-type-v", o->session.cache_type_v, "KV cache type for values: f16, f32, q8_0")
      ->capture_default_str();
  cmd->callback([o] { run_perplexity(*o); });
}

}  // namespace lumen::cli
