// `lumen embed`: sentence embeddings from a BERT model (a Hugging Face folder or a `bert`
// GGUF), one vector per -p text, printed one per line or written as a [texts, dim] .npy.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "commands.h"
#include "formats/bert_files.h"
#include "formats/npy.h"
#include "models/bert.h"

namespace lumen::cli {
namespace {

struct EmbedOptions {
  std::string model;
  std::vector<std::string> prompts;
  std::string pooling;  // empty: the model's own
  bool normalize = false;
  std::string output;
  int32_t threads = 0;
};

void embed(const EmbedOptions& o) {
  std::optional<Pooling> requested;  // parsed before the model is loaded, so a typo fails fast
  if (!o.pooling.empty()) requested = parse_pooling(o.pooling);
  const auto model = load_bert(o.model);
  const Pooling pooling = requested.value_or(model->config.pooling);
  ThreadPool pool(o.threads > 0 ? o.threads : int(std::max(1u, std::thread::hardware_concurrency())));
  const std::vector<float> vectors = bert_embed_texts(*model, o.prompts, pooling, o.normalize, pool);
  const int64_t dim = model->config.dim;
  if (!o.output.empty()) {
    write_npy_f32(o.output, {int64_t(o.prompts.size()), dim}, vectors);
  } else {
    for (size_t t = 0; t < o.prompts.size(); ++t)
      for (int64_t d = 0; d < dim; ++d) std::printf(d + 1 < dim ? "%.7g " : "%.7g\n", vectors[t * dim + d]);
  }
  std::fprintf(stderr, "lumen: %zu text(s), %lld dimensions, %s pooling%s\n", o.prompts.size(), (long long)dim,
               pooling_name(pooling), o.normalize ? ", L2-normalised" : "");
}

}  // namespace

void register_embed(CLI::App& app) {
  auto o = std::make_shared<EmbedOptions>();
  CLI::App* cmd = app.add_subcommand("embed", "Embed texts with a BERT model (Hugging Face folder or bert GGUF)");
  cmd->add_option("-m,--model", o->model, "BERT model: a Hugging Face folder or a bert GGUF")->required();
  cmd->add_option("-p,--prompt", o->prompts, "text to embed (repeat for several)")->required();
  cmd->add_option("--pooling", o->pooling, "cls or mean (default: the model's; cls for a Hugging Face folder)");
  cmd->add_flag("--normalize", o->normalize, "scale each vector to unit L2 length");
  cmd->add_option("--output", o->output, "write a float32 .npy of shape [texts, dim] instead of printing");
  cmd->add_option("-t,--threads", o->threads, "threads (0: all)")->check(CLI::Range(0, 1024));
  cmd->callback([o] { embed(*o); });
}

}  // namespace lumen::cli
