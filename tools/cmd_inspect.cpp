// `lumen inspect`: what a model file holds and what running it costs (seed 001's arithmetic).
#include <cstdio>

#include "commands.h"
#include "model_options.h"
#include "models/model_costs.h"

namespace lumen::cli {
namespace {

void inspect(const ModelOptions& o) {
  const auto handle = o.load();
  const LoadedModel* model = &handle->loaded();
  const ModelConfig& c = model->config;
  std::printf("format: %s\narchitecture: %s\n", model->format.c_str(), c.architecture.c_str());
  std::printf("dim %d | hidden %d | layers %d | heads %d | kv heads %d | head dim %d | vocab %d | context %d\n",
              c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads, c.head_dim(), c.vocab_size,
              c.context_length);
  std::printf("rms eps %g | rope base %g | rope dims %d | rope pairs %s | classifier %s\n", c.rms_eps,
              c.rope_freq_base, c.rotary_dims(), c.rope_style == RopeStyle::Adjacent ? "adjacent" : "neox",
              model->weights.tied_output ? "tied to embedding" : "separate");
  const char* norm = c.norm == NormKind::RMSNorm ? "RMSNorm" : "LayerNorm";
  const char* position = c.position == PositionKind::Rope      ? "RoPE"
                         : c.position == PositionKind::Learned ? "learned absolute"
                                                               : "ALiBi";
  const char* ffn = c.ffn == FfnKind::SwiGLU ? "SwiGLU" : c.ffn == FfnKind::GeluMLP ? "GELU MLP" : "mixture of experts";
  std::printf("family options: norm %s | positions %s | FFN %s | sliding window %d\n", norm, position, ffn,
              c.sliding_window);
  std::printf("tokenizer: %s, %d tokens, bos %d, eos %d\n\n", model->vocab.model.c_str(), model->vocab.size(),
              model->vocab.bos_id, model->vocab.eos_id);
  std::printf("%-28s %-6s %-16s %12s\n", "tensor", "type", "shape", "bytes");
  for (const Tensor& t : model->tensors)
    std::printf("%-28s %-6s %-16s %12zu\n", t.name.c_str(), std::string(dtype_name(t.type)).c_str(),
                shape_string(t.shape).c_str(), t.bytes());
  const ModelCosts costs = model_costs(*model);
  std::printf("\nparameters: %lld (%.2f M)\n", (long long)costs.parameters, costs.parameters / 1e6);
  std::printf("weight bytes: %.2f MiB\n", costs.weight_bytes / 1048576.0);
  std::printf("KV cache: %lld bytes per token in f16 (2 x %d layers x %d kv dim x 2 bytes; %lld in f32), "
              "%.2f MiB at %d tokens\n",
              (long long)costs.kv_values_per_token * 2, c.n_layers, c.kv_dim(), (long long)costs.kv_values_per_token * 4,
              costs.kv_values_per_token * 2.0 * c.context_length / 1048576.0, c.context_length);
  const char* attention = c.n_kv_heads == c.n_heads ? "MHA" : c.n_kv_heads == 1 ? "MQA" : "GQA";
  std::printf("attention: %s, %d query heads over %d kv heads: KV %lld bytes per token in f16 (MHA would need %lld, "
              "x%.2f)\n",
              attention, c.n_heads, c.n_kv_heads, (long long)costs.kv_values_per_token * 2,
              (long long)costs.kv_values_per_token_mha * 2,
              double(costs.kv_values_per_token) / double(costs.kv_values_per_token_mha));
  if (c.sliding_window > 0)
    std::printf("sliding window: %d positions: a sequence's KV cache needs at most %lld positions, %.2f MiB in f16 "
                "(full context: %.2f MiB)\n",
                c.sliding_window, (long long)costs.kv_positions,
                costs.kv_values_per_token * 2.0 * costs.kv_positions / 1048576.0,
                costs.kv_values_per_token * 2.0 * c.context_length / 1048576.0);
  if (c.ffn == FfnKind::MoE)
    std::printf("mixture of experts: %d of %d experts per token: %lld active of %lld total parameters (%.1f%%)\n",
                c.n_experts_used, c.n_experts, (long long)costs.active_parameters, (long long)costs.parameters,
                100.0 * double(costs.active_parameters) / double(costs.parameters));
  std::printf("per generated token: %.2f MiB of weights read, %.3f GFLOP in matrices + %.3f GFLOP attention at "
              "position %d\n",
              costs.weight_bytes_per_token / 1048576.0, costs.matmul_flops_per_token / 1e9,
              costs.attention_flops_per_position * c.context_length / 1e9, c.context_length);
}

}  // namespace

void register_inspect(CLI::App& app) {
  auto o = std::make_shared<ModelOptions>();
  CLI::App* cmd = app.add_subcommand("inspect", "show a model's hyper-parameters, tensors and costs");
  cmd->add_option("model", o->model, "model file")->required();
  cmd->add_option("-z,--tokenizer", o->tokenizer, "tokenizer .bin for a llama2.c checkpoint");
  cmd->callback([o] { inspect(*o); });
}

}  // namespace lumen::cli
