// `lumen translate`: greedy decoding with an encoder–decoder Transformer in lumen's folder
// format (docs/FORMATS.md). stdout carries the translation; --logits-out and --tokens-out give
// the numbers behind it.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "commands.h"
#include "formats/npy.h"
#include "formats/seq2seq_files.h"
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
};

void translate(const TranslateOptions& o) {
  const auto model = load_seq2seq(o.model);
  ThreadPool pool(o.threads > 0 ? o.threads : int(std::max(1u, std::thread::hardware_concurrency())));
  Translator translator(*model, pool);
  const std::vector<int32_t> source = translator.source_ids(o.prompt);
  std::vector<float> logits;
  const std::vector<int32_t> ids =
      translator.translate(source, o.max_tokens > 0 ? o.max_tokens : model->config.max_len, o.logits_out.empty() ? nullptr : &logits);
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
  CLI::App* cmd = app.add_subcommand("translate", "Translate a text with an encoder-decoder Transformer (greedy)");
  cmd->add_option("-m,--model", o->model, "model folder (config.json, model.safetensors, src/tgt_vocab.txt)")->required();
  cmd->add_option("-p,--prompt", o->prompt, "text to translate (words of the source vocabulary)")->required();
  cmd->add_option("-n,--n-predict", o->max_tokens, "most target tokens to generate, EOS included (0: max_len)")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--logits-out", o->logits_out, "write the float32 logits of every generated step to a .npy file");
  cmd->add_option("--tokens-out", o->tokens_out, "write the generated token ids (space-separated) to a text file");
  cmd->add_option("-t,--threads", o->threads, "threads (0: all)")->check(CLI::Range(0, 1024));
  cmd->callback([o] { translate(*o); });
}

}  // namespace lumen::cli
