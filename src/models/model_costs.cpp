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
  for (const LayerWeights& l : w.layers) {
    for (const Tensor* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w_gate, &l.w_up, &l.w_down}) {
      matrix_params += m->elements();
      k.weight_bytes_per_token += int64_t(m->bytes());
    }
    k.weight_bytes_per_token += int64_t(l.attn_norm.bytes() + l.ffn_norm.bytes());
  }
  k.matmul_flops_per_token = 2 * matrix_params;
  k.attention_flops_per_position = int64_t(4) * c.n_layers * c.dim;
  return k;
}

}  // namespace lumen
