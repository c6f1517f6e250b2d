#pragma once
// Options shared by the subcommands that open a model: -m, -z, and the bundled default.
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "lumen/lumen.h"

namespace lumen::cli {

struct ModelOptions {
  std::string model;      // empty: the bundled default model
  std::string tokenizer;  // needed for llama2.c checkpoints; empty picks the default's
  void add_to(CLI::App& cmd);
  std::shared_ptr<const Model> load() const;
};

}  // namespace lumen::cli
