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
};

ModelCosts model_costs(const LoadedModel& model);

}  // namespace lumen
