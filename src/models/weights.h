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

  // Optional (absent: data == nullptr), by family.
  Tensor attn_norm_b, ffn_norm_b;   // {dim}      LayerNorm biases (GPT-2, BLOOM)
  Tensor bq, bk, bv;                // {dim}, {kv_dim}, {kv_dim}: Q/K/V biases (Qwen2, GPT-2, BLOOM)
  Tensor bo;                        // {dim}      attention output bias
  Tensor b_up, b_down;              // {hidden}, {dim}: GELU MLP biases
  // MoE (Mixtral): router {dim, n_experts} and each expert's SwiGLU matrices.
  Tensor router;
  std::vector<Tensor> expert_gate, expert_up, expert_down;  // {dim, hidden}, {dim, hidden}, {hidden, dim}
};

struct ModelWeights {
  Tensor token_embd;   // {dim, vocab}
  Tensor pos_embd;     // {dim, context}: learned absolute positions (GPT-2); absent otherwise
  Tensor embd_norm, embd_norm_b;  // {dim}: LayerNorm after the embedding (BLOOM)
  std::vector<LayerWeights> layers;
  Tensor output_norm;  // {dim}
  Tensor output_norm_b;  // {dim}: LayerNorm bias (absent for RMSNorm)
  Tensor output;       // {dim, vocab}; the same view as token_embd when the classifier is tied
  bool tied_output = false;
};

}  // namespace lumen
