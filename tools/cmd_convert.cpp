// `lumen convert`: rewrite a model (llama2.c checkpoint + tokenizer, or GGUF) as a GGUF v3
// file that llama.cpp and lumen both load.
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "formats/bert_files.h"
#include "formats/gguf_model.h"
#include "formats/loaded_model.h"

namespace lumen::cli {
namespace {

struct ConvertOptions {
  std::string model;
  std::string tokenizer;
  std::string output;
};

void convert(const ConvertOptions& o) {
  if (is_bert_model(o.model)) {  // encoder-only: its own model type and writer
    const auto bert = load_bert(o.model);
    write_bert_gguf(*bert, o.output);
    std::fprintf(stderr, "lumen: wrote %s (%s bert: dim %d, %d layers, %d heads, vocab %d)\n", o.output.c_str(),
                 bert->format.c_str(), bert->config.dim, bert->config.n_layers, bert->config.n_heads,
                 bert->config.vocab_size);
    return;
  }
  const auto model = load_model(o.model, o.tokenizer);
  write_gguf_model(*model, o.output);
  const ModelConfig& c = model->config;
  std::fprintf(stderr, "lumen: wrote %s (%s %s: dim %d, %d layers, %d heads, %d kv heads, vocab %d%s)\n",
               o.output.c_str(), model->format.c_str(), c.architecture.c_str(), c.dim, c.n_layers, c.n_heads,
               c.n_kv_heads, c.vocab_size, model->weights.tied_output ? ", tied classifier" : "");
}

}  // namespace

void register_convert(CLI::App& app) {
  auto o = std::make_shared<ConvertOptions>();
  CLI::App* cmd = app.add_subcommand("convert", "Write a model as GGUF v3 (llama, qwen2, gpt2, bloom or bert architecture)");
  cmd->add_option("-m,--model", o->model, "Model to read (llama2.c .bin, .gguf or a Hugging Face folder)")->required();
  cmd->add_option("-z,--tokenizer", o->tokenizer, "Tokenizer for a llama2.c checkpoint or a Hugging Face folder (tokenizer.bin)");
  cmd->add_option("-o,--output", o->output, "GGUF file to write")->required();
  cmd->callback([o] { convert(*o); });
}

}  // namespace lumen::cli
