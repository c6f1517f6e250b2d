// `lumen quantize IN OUT TYPE`: rewrite a model with its matrices in another storage type,
// with llama-quantize's type names and per-tensor choices.
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "formats/quantize_model.h"

namespace lumen::cli {
namespace {

struct QuantizeCommand {
  std::string input;
  std::string output;
  std::string type;
  QuantizeOptions options;
};

void run_quantize(const QuantizeCommand& c) {
  const QuantPreset& preset = find_quant_preset(c.type);  // before any work: a typo fails at once
  const QuantizeReport r = quantize_model(c.input, c.output, preset, c.options);
  for (const std::string& n : r.notices) std::fprintf(stderr, "lumen: notice: %s\n", n.c_str());
  std::fprintf(stderr, "lumen: wrote %s (%s): %d tensors, %d converted, %.2f MiB -> %.2f MiB\n", c.output.c_str(),
               std::string(preset.name).c_str(), r.tensors, r.converted, r.bytes_in / 1048576.0,
               r.bytes_out / 1048576.0);
}

}  // namespace

void register_quantize(CLI::App& app) {
  auto c = std::make_shared<QuantizeCommand>();
  CLI::App* cmd = app.add_subcommand("quantize", "Write a model with its matrices quantized (llama-quantize's types)");
  cmd->add_option("input", c->input, "Model to read (.gguf, or a llama2.c .bin with -z)")->required();
  cmd->add_option("output", c->output, "GGUF file to write")->required();
  cmd->add_option("type", c->type, "Type or mix: " + quant_preset_names())->required();
  cmd->add_option("-z,--tokenizer", c->options.tokenizer, "Tokenizer for a llama2.c checkpoint (tokenizer.bin)");
  cmd->add_flag("--allow-requantize", c->options.allow_requantize,
                "Convert tensors that are already block-quantized (their error adds up)");
  cmd->add_flag("--pure", c->options.pure, "No mixture: every matrix in the base type, output.weight included");
  cmd->callback([c] { run_quantize(*c); });
}

}  // namespace lumen::cli
