#pragma once
// Hyper-parameters of a decoder-only model and the options that make one family differ from
// another. A new family is a new combination of these options, not a new forward pass.
#include <cstdint>
#include <string>

namespace lumen {

enum class NormKind { RMSNorm, LayerNorm };  // LayerNorm: mean-centred, with weight and bias
// Adjacent: rotate (x[2i], x[2i+1]) — llama2.c and GGUF `llama`.
// NeoX: rotate (x[i], x[i + head_dim/2]) — Hugging Face / GPT-NeoX layout.
enum class RopeStyle { Adjacent, NeoX };
// SwiGLU: down(silu(gate x) * up x). GeluMLP: down(gelu_tanh(up x + b) + b) (GPT-2, BLOOM).
// MoE: a router picks n_experts_used of n_experts SwiGLU FFNs per token (Mixtral).
enum class FfnKind { SwiGLU, GeluMLP, MoE };
// How a token learns its position: RoPE on Q and K (rope_style picks the pairing), a learned
// absolute embedding added to the token embedding (GPT-2), or ALiBi's per-head linear bias on
// the attention scores (BLOOM).
enum class PositionKind { Rope, Learned, ALiBi };

struct ModelConfig {
  std::string architecture = "llama";
  int32_t dim = 0;          // embedding length
  int32_t hidden_dim = 0;   // feed-forward length
  int32_t n_layers = 0;
  int32_t n_heads = 0;
  int32_t n_kv_heads = 0;
  int32_t vocab_size = 0;
  int32_t context_length = 0;  // the longest sequence the model was built for
  float rms_eps = 1e-5f;
  float rope_freq_base = 10000.0f;
  int32_t rope_dim = 0;  // dimensions of each head that rotate (0: all of them)

  NormKind norm = NormKind::RMSNorm;
  RopeStyle rope_style = RopeStyle::Adjacent;
  FfnKind ffn = FfnKind::SwiGLU;
  PositionKind position = PositionKind::Rope;
  // rms_eps is the epsilon of whichever norm the model uses (RMSNorm or LayerNorm).
  int32_t sliding_window = 0;  // > 0: a token attends to at most this many positions, itself included
  int32_t n_experts = 0;       // MoE: experts per layer
  int32_t n_experts_used = 0;  // MoE: experts each token is routed to
  bool embedding_norm = false; // LayerNorm right after the token embedding (BLOOM)

  int32_t head_dim() const { return dim / n_heads; }
  int32_t kv_dim() const { return head_dim() * n_kv_heads; }
  int32_t rotary_dims() const { return rope_dim ? rope_dim : head_dim(); }
  // Positions of the KV cache one token reads: the window where there is one.
  int32_t attended_positions() const {
    return sliding_window > 0 && sliding_window < context_length ? sliding_window : context_length;
  }
};

// Checks the relations between fields (heads divide dim, kv heads divide heads, ...) and fails
// with a message naming the first field that is wrong.
void validate(const ModelConfig& c);

}  // namespace lumen
