#pragma once
// What running a model costs, from its shapes: the figures `inspect` prints and the benchmarks
// hold measurements against (decode reads every weight once per token).
#include <cstdint>

#include "formats/loaded_model.h"

namespace lumen {

struct ModelCosts {
  int64_t parameters = 0;              // every element of every tensor (the tied classifier once)
  int64_t weight_bytes = 0;            // bytes of all tensors
  int64_t kv_values_per_token = 0;     // keys + values of one position, all layers (x 2 bytes in f16)
  int64_t weight_bytes_per_token = 0;  // read by one decode step: all matrices, norms, one embedding row
  int64_t matmul_flops_per_token = 0;  // 2 x (parameters of the matrices a token multiplies)
  int64_t attention_flops_per_position = 0;  // q·k and a·v for each earlier position
  // Family figures. The KV cache of one sequence holds at most kv_positions positions (the
  // sliding window caps it); MHA vs GQA shows in kv_values_per_token (kv_dim = head_dim x kv heads).
  int64_t kv_positions = 0;
  int64_t kv_values_per_token_mha = 0;  // what the same model would cache with one KV head per query head
  // Mixture of experts: parameters a token actually multiplies (router + n_experts_used of
  // n_experts per layer, everything else once) vs all of them. Equal for dense models.
  int64_t active_parameters = 0;
};

ModelCosts model_costs(const LoadedModel& model);

}  // namespace lumen
