#pragma once
// The decoder-only transformer forward pass (seed 003, llama2.c's `forward` as the readable
// reference): embedding → n_layers x [norm → attention with RoPE and a KV cache → residual →
// norm → SwiGLU FFN → residual] → final norm → classifier.
//
// Prompts run as batches of tokens (matrix x matrix products), decode one token at a time.
// All buffers are sized here, once; forward() never allocates.
#include <cstdint>
#include <span>
#include <vector>

#include "formats/loaded_model.h"
#include "kernels/rope.h"
#include "runtime/kv_cache.h"
#include "runtime/thread_pool.h"

namespace lumen {

class Decoder {
 public:
  // context_length: positions this decoder can hold (≤ the model's); 0 means the model's own.
  Decoder(const LoadedModel& model, int32_t context_length, ThreadPool& pool);

  // Runs tokens[0..n) at positions pos..pos+n-1, appending their keys and values to the cache.
  // Writes the logits of the last token (vocab_size floats) to `logits`.
  void forward(std::span<const int32_t> tokens, int32_t pos, float* logits);
  // As forward(), but writes the logits of every token: n x vocab_size floats.
  void forward_all_logits(std::span<const int32_t> tokens, int32_t pos, float* logits);

  int32_t context_length() const { return cache_.context_length(); }
  const ModelConfig& config() const { return config_; }
  // Tokens one forward batch holds; longer inputs are split into batches of this size.
  static constexpr int32_t kMaxBatch = 64;

 private:
  void run(std::span<const int32_t> tokens, int32_t pos, float* logits, bool all_logits);
  void run_batch(const int32_t* tokens, int32_t n, int32_t pos, float* logits, bool all_logits);
  void attention(int32_t layer, int32_t n, int32_t pos);

  const ModelConfig& config_;
  const ModelWeights& weights_;
  ThreadPool& pool_;
  KvCache cache_;
  RopeTable rope_;
  // Norm weights widened to float once (files may store them as F16/BF16).
  std::vector<std::vector<float>> attn_norm_, ffn_norm_;
  std::vector<float> output_norm_;
  // Activations for up to kMaxBatch tokens, row-major [token][feature].
  std::vector<float> x_, xb_, q_, k_, v_, att_, hb_, hb2_;
  std::vector<float> scores_;  // one context-length row per thread
};

}  // namespace lumen
