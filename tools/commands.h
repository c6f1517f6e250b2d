#pragma once
// Each subcommand of the `lumen` tool lives in its own cmd_*.cpp and registers itself here.
#include <CLI/CLI.hpp>

namespace lumen::cli {

void register_run(CLI::App& app);
void register_tokenize(CLI::App& app);
void register_inspect(CLI::App& app);
void register_convert(CLI::App& app);
void register_serve(CLI::App& app);
void register_quantize(CLI::App& app);
void register_perplexity(CLI::App& app);
void register_bench(CLI::App& app);
void register_embed(CLI::App& app);
void register_translate(CLI::App& app);
void register_classify(CLI::App& app);

// The model `lumen run` uses when no -m is given, and its tokenizer.
std::string default_model_path();
std::string default_tokenizer_path();

}  // namespace lumen::cli
