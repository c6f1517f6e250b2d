#pragma once
// The decoder-only transformer forward pass (seed 003, llama2.c's `forward` as the readable
// reference): embedding → n_layers x [norm → attention with RoPE and a KV cache → residual →
// norm → SwiGLU FFN → residual] → final norm → classifier.
//
// One call runs a batch that may mix sequences: prompt chunks (prefill) and single tokens
// (decode) alike become rows of one matrix x matrix product per weight, so each weight is read
// once per step however many sequences are running. Each sequence's keys and values go to the
// KV blocks its block table names. All buffers are sized here, once; forward() never allocates.
#include <cstdint>
#include <span>
#include <vector>

#include "formats/loaded_model.h"
#include "kernels/rope.h"
#include "runtime/kv_cache.h"
#include "runtime/thread_pool.h"

namespace lumen {

// One sequence's share of a forward batch.
struct SequenceStep {
  std::span<const int32_t> tokens;   // at positions pos .. pos + size - 1
  int32_t pos = 0;
  std::span<const int32_t> blocks;   // block table covering positions 0 .. pos + size - 1
  float* logits = nullptr;           // nullptr: none wanted; else vocab floats (the last token's)
  bool all_logits = false;           // logits of every token: size x vocab floats
};

class Decoder {
 public:
  // max_positions: the longest sequence this decoder will see (≤ the model's context);
  // max_batch_tokens: the most tokens one forward() may carry.
  Decoder(const LoadedModel& model, int32_t max_positions, int32_t max_batch_tokens, ThreadPool& pool);

  void forward(std::span<const SequenceStep> batch, KvStore& kv);

  const ModelConfig& config() const { return config_; }
  int32_t max_positions() const { return rope_.max_positions(); }
  int32_t max_batch_tokens() const { return max_batch_; }

 private:
  void attention(int32_t layer, int32_t n, const KvStore& kv);
  void classifier(std::span<const SequenceStep> batch);

  const ModelConfig& config_;
  const ModelWeights& weights_;
  ThreadPool& pool_;
  int32_t max_batch_;
  RopeTable rope_;
  // Norm weights widened to float once (files may store them as F16/BF16).
  std::vector<std::vector<float>> attn_norm_, ffn_norm_;
  std::vector<float> output_norm_;
  // Per batch row: its position and where its key/value go (block table, sequence).
  std::vector<int32_t> row_pos_;
  std::vector<const SequenceStep*> row_seq_;
  // Activations, row-major [row][feature].
  std::vector<float> x_, xb_, q_, k_, v_, att_, hb_, hb2_;
  std::vector<float> logits_;  // classifier rows of a multi-sequence batch, before scattering
  std::vector<float> scores_;  // one max_positions row per thread
};

// A single sequence in KV storage of its own, its blocks in order: what the command line and
// the library's Session use. Splits long inputs into batches the decoder can carry.
class SequenceRunner {
 public:
  SequenceRunner(const LoadedModel& model, int32_t context_length, ThreadPool& pool, KvCacheTypes cache_types = {});

  // Runs tokens at positions pos.. (appending to the cache). Logits: the last token's
  // (vocab floats), or with all_logits every token's (n x vocab floats).
  void forward(std::span<const int32_t> tokens, int32_t pos, float* logits, bool all_logits = false);

  int32_t context_length() const { return context_; }
  const ModelConfig& config() const { return decoder_.config(); }

 private:
  static constexpr int32_t kBlockSize = 16;
  static constexpr int32_t kMaxBatch = 64;
  int32_t context_;
  Decoder decoder_;
  KvStore kv_;
  std::vector<int32_t> blocks_;  // 0, 1, 2, ...
};

}  // namespace lumen
