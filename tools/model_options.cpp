#include "model_options.h"

#include "commands.h"

namespace lumen::cli {

std::string default_model_path() { return std::string(LUMEN_DEFAULT_MODEL_DIR) + "/stories260K.bin"; }
std::string default_tokenizer_path() { return std::string(LUMEN_DEFAULT_MODEL_DIR) + "/tok512.bin"; }

void ModelOptions::add_to(CLI::App& cmd) {
  cmd.add_option("-m,--model", model, "model: GGUF, llama2.c .bin or a Hugging Face folder (default: the bundled stories260K)");
  cmd.add_option("-z,--tokenizer", tokenizer, "tokenizer .bin for a llama2.c checkpoint");
}

std::shared_ptr<const Model> ModelOptions::load() const {
  if (model.empty()) return Model::load(default_model_path(), tokenizer.empty() ? default_tokenizer_path() : tokenizer);
  return Model::load(model, tokenizer);
}

}  // namespace lumen::cli
