#include "models/model_costs.h"

namespace lumen {

ModelCosts model_costs(const LoadedModel& model) {
  const ModelConfig& c = model.config;
  const ModelWeights& w = model.weights;
  ModelCosts k;
  for (const Tensor& t : model.tensors) {
    k.parameters += t.elements();
    k.weight_bytes += int64_t(t.bytes());
  }
  k.kv_values_per_token = int64_t(2) * c.n_layers * c.kv_dim();

  int64_t matrix_params = w.output.elements();
  k.weight_bytes_per_token = int64_t(w.output.bytes() + w.output_norm.bytes()) +
                             int64_t(row_bytes(w.token_embd.type, w.token_embd.row_length()));
  int64_t inactive_params = 0;
  for (const LayerWeights& l : w.layers) {
    for (const Tensor* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down, &l.router}) {
      if (!m->present()) continue;
      matrix_params += m->elements();
      k.weight_bytes_per_token += int64_t(m->bytes());
    }
    k.weight_bytes_per_token += int64_t(l.attn_norm.bytes() + l.ffn_norm.bytes());
    if (c.ffn == FfnKind::MoE && c.n_experts > 0) {
      // A token runs n_experts_used experts; decode reads those (which ones varies by token).
      int64_t expert_params = 0, expert_bytes = 0;
      for (const auto* list : {&l.expert_gate, &l.expert_up, &l.expert_down})
        for (const Tensor& t : *list) {
          expert_params += t.elements();
          expert_bytes += int64_t(t.bytes());
        }
      matrix_params += expert_params / c.n_experts * c.n_experts_used;
      k.weight_bytes_per_token += expert_bytes / c.n_experts * c.n_experts_used;
      inactive_params += expert_params / c.n_experts * (c.n_experts - c.n_experts_used);
    }
  }
  k.matmul_flops_per_token = 2 * matrix_params;
  k.attention_flops_per_position = int64_t(4) * c.n_layers * c.dim;
  k.kv_positions = c.attended_positions();
  k.kv_values_per_token_mha = int64_t(2) * c.n_layers * c.dim;
  k.active_parameters = k.parameters - inactive_params;
  return k;
}

}  // namespace lumen
