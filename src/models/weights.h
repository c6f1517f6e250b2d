#pragma once
// The tensors of a decoder-only model, as views into the loaded file(s).
#include <vector>

#include "tensor/tensor.h"

namespace lumen {

struct LayerWeights {
  Tensor attn_norm;  // {dim}
  Tensor wq;         // {dim, dim}
  Tensor wk;         // {dim, kv_dim}
  Tensor wv;         // {dim, kv_dim}
  Tensor wo;         // {dim, dim}
  Tensor ffn_norm;   // {dim}
  Tensor w_gate;     // {dim, hidden}   (llama2.c w1)
  Tensor w_up;       // {dim, hidden}   (llama2.c w3)
  Tensor w_down;     // {hidden, dim}   (llama2.c w2)
};

struct ModelWeights {
  Tensor token_embd;   // {dim, vocab}
  std::vector<LayerWeights> layers;
  Tensor output_norm;  // {dim}
  Tensor output;       // {dim, vocab}; the same view as token_embd when the classifier is tied
  bool tied_output = false;
};

}  // namespace lumen
