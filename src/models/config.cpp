#include "models/config.h"

#include "util/error.h"

namespace lumen {

void validate(const ModelConfig& c) {
  auto positive = [](const char* name, int64_t v, int64_t limit) {
    if (v <= 0 || v > limit) fail("model hyper-parameter ", name, " = ", v, " is out of range (1..", limit, ")");
  };
  positive("dim", c.dim, 1 << 20);
  positive("hidden_dim", c.hidden_dim, 1 << 22);
  positive("n_layers", c.n_layers, 4096);
  positive("n_heads", c.n_heads, 4096);
  positive("n_kv_heads", c.n_kv_heads, 4096);
  positive("vocab_size", c.vocab_size, 1 << 24);
  positive("context_length", c.context_length, 1 << 24);
  if (c.dim % c.n_heads) fail("dim ", c.dim, " is not divisible by n_heads ", c.n_heads);
  if (c.n_heads % c.n_kv_heads) fail("n_heads ", c.n_heads, " is not divisible by n_kv_heads ", c.n_kv_heads);
  if (c.position == PositionKind::Rope) {
    if (c.head_dim() % 2) fail("head dimension ", c.head_dim(), " is odd; RoPE needs pairs");
    if (c.rotary_dims() <= 0 || c.rotary_dims() > c.head_dim() || c.rotary_dims() % 2)
      fail("rope dimension count ", c.rotary_dims(), " does not fit head dimension ", c.head_dim());
  }
  if (c.sliding_window < 0) fail("sliding window ", c.sliding_window, " is negative");
  if (c.ffn == FfnKind::MoE) {
    positive("n_experts", c.n_experts, 1024);
    positive("n_experts_used", c.n_experts_used, c.n_experts);
  }
  if (!(c.rms_eps > 0.0f) || c.rms_eps > 1.0f) fail("rms epsilon ", c.rms_eps, " is out of range");
  if (!(c.rope_freq_base > 0.0f)) fail("rope frequency base ", c.rope_freq_base, " is not positive");
}

}  // namespace lumen
