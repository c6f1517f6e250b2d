#pragma once
// Options shared by the subcommands that open a model: -m, -z, and the bundled default.
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "formats/loaded_model.h"

namespace lumen::cli {

struct ModelOptions {
  std::string model;      // empty: the bundled default model
  std::string tokenizer;  // needed for llama2.c checkpoints; empty picks the default's
  void add_to(CLI::App& cmd);
  std::unique_ptr<LoadedModel> load() const;
};

}  // namespace lumen::cli
