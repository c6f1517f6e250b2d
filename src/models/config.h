#pragma once
// Hyper-parameters of a decoder-only model and the options that make one family differ from
// another. A new family is a new combination of these options, not a new forward pass.
#include <cstdint>
#include <string>

namespace lumen {

enum class NormKind { RMSNorm };
// Adjacent: rotate (x[2i], x[2i+1]) — llama2.c and GGUF `llama`.
// NeoX: rotate (x[i], x[i + head_dim/2]) — Hugging Face / GPT-NeoX layout.
enum class RopeStyle { Adjacent, NeoX };
enum class FfnKind { SwiGLU };

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

  int32_t head_dim() const { return dim / n_heads; }
  int32_t kv_dim() const { return head_dim() * n_kv_heads; }
  int32_t rotary_dims() const { return rope_dim ? rope_dim : head_dim(); }
};

// Checks the relations between fields (heads divide dim, kv heads divide heads, ...) and fails
// with a message naming the first field that is wrong.
void validate(const ModelConfig& c);

}  // namespace lumen
