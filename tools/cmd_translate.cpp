// `lumen translate`: greedy decoding, or beam search with --beams, with an encoder–decoder
// Transformer in lumen's folder format (docs/FORMATS.md). stdout carries the translation;
// --logits-out and --tokens-out give the numbers behind it.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "beam_flags.h"
#include "commands.h"
#include "formats/npy.h"
#include "formats/seq2seq_files.h"
#include "runtime/translate_beams.h"
#include "util/error.h"

namespace lumen::cli {
namespace {

struct TranslateOptions {
  std::string model;
  std::string prompt;
  int32_t max_tokens = 0;  // 0: up to the model's max_len
  std::string logits_out;
  std::string tokens_out;
  int32_t threads = 0;
  BeamFlags beam;  // 1 beam: greedy
};

// The best hypothesis's ids with its end token, as greedy decoding gives them; its score on stderr.
std::vector<int32_t> search(Translator& translator, std::span<const int32_t> source, int32_t max_tokens,
                            const BeamFlags& beam) {
  const TranslationBeams r = translate_beams(translator, source, beam.beams, beam.length_penalty, max_tokens);
  const BeamHypothesis& best = r.best.front();  // a search of one token or more finds one
  std::vector<int32_t> ids = best.tokens;
  if (best.ended) ids.push_back(translator.config().eos_id);
  std::fprintf(stderr, "lumen: best of %d beams scores %.6f | %d beam tokens\n", beam.beams, best.score,
               r.beam_tokens);
  return ids;
}

void translate(const TranslateOptions& o) {
  const auto model = load_seq2seq(o.model);
  ThreadPool pool(o.threads > 0 ? o.threads : int(std::max(1u, std::thread::hardware_concurrency())));
  Translator translator(*model, pool);
  const std::vector<int32_t> source = translator.source_ids(o.prompt);
  const int32_t max_tokens = o.max_tokens > 0 ? o.max_tokens : model->config.max_len;
  std::vector<float> logits;
  std::vector<float>* logits_out = o.logits_out.empty() ? nullptr : &logits;
  const std::vector<int32_t> ids = o.beam.beams > 1 ? search(translator, source, max_tokens, o.beam)
                                                    : translator.translate(source, max_tokens, logits_out);
  if (!o.logits_out.empty())
    write_npy_f32(o.logits_out, {int64_t(ids.size()), model->config.tgt_vocab_size}, logits);
  if (!o.tokens_out.empty()) {  // the generated ids, space-separated on one line, as `lumen run` writes them
    std::FILE* f = std::fopen(o.tokens_out.c_str(), "w");
    if (!f) fail("cannot write ", o.tokens_out);
    for (size_t i = 0; i < ids.size(); ++i) std::fprintf(f, i ? " %d" : "%d", ids[i]);
    std::fputc('\n', f);
    if (std::fclose(f) != 0) fail("cannot write ", o.tokens_out);
  }
  const bool ended = !ids.empty() && ids.back() == model->config.eos_id;
  const std::string text = model->tgt_vocab.decode(std::span(ids).first(ids.size() - (ended ? 1 : 0)));
  std::printf("%s\n", text.c_str());
  std::fprintf(stderr, "lumen: %zu source tokens, %zu target tokens%s\n", source.size(), ids.size(),
               ended ? "" : " (stopped before end of sentence)");
}

}  // namespace

void register_translate(CLI::App& app) {
  auto o = std::make_shared<TranslateOptions>();
  CLI::App* cmd =
      app.add_subcommand("translate", "Translate a text with an encoder-decoder Transformer (greedy or beam search)");
  cmd->add_option("-m,--model", o->model, "model folder (config.json, model.safetensors, src/tgt_vocab.txt)")->required();
  cmd->add_option("-p,--prompt", o->prompt, "text to translate (words of the source vocabulary)")->required();
  cmd->add_option("-n,--n-predict", o->max_tokens, "most target tokens to generate, EOS included (0: max_len)")
      ->check(CLI::Range(0, 1 << 20));
  const CLI::Option* logits_out =
      cmd->add_option("--logits-out", o->logits_out, "write the float32 logits of every generated step to a .npy file");
  cmd->add_option("--tokens-out", o->tokens_out, "write the generated token ids (space-separated) to a text file");
  cmd->add_option("-t,--threads", o->threads, "threads (0: all)")->check(CLI::Range(0, 1024));
  o->beam.add_to(*cmd, "the best translation is printed, its score on stderr; 1: greedy as without it");
  cmd->callback([o, logits_out] {
    o->beam.check({&logits_out, 1}, "whose beams each have their own logits");
    translate(*o);
  });
}

}  // namespace lumen::cli
