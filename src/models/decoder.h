#pragma once
// The decoder-only transformer forward pass (seed 003, llama2.c's `forward` as the readable
// reference): embedding → n_layers x [norm → attention with RoPE and a KV cache → residual →
// norm → SwiGLU FFN → residual] → final norm → classifier.
//
// The families differ only by ModelConfig's options: LayerNorm instead of RMSNorm, learned
// positions or ALiBi instead of RoPE, biases, a sliding attention window, a GELU MLP or a
// mixture of SwiGLU experts instead of one SwiGLU FFN.
//
// One call runs a batch that may mix sequences: prompt chunks (prefill) and single tokens
// (decode) alike become rows of one matrix x matrix product per weight, so each weight is read
// once per step however many sequences are running. Each sequence's keys and values go to the
// KV blocks its block table names. All buffers are sized here, once, except the one that gathers
// the logits of a multi-sequence batch: it grows to the most rows a batch has asked for.
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "formats/loaded_model.h"
#include "kernels/attention.h"
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
  // Positions from here on hold generated tokens, earlier ones the prompt. Attention picks its
  // kernel by this (never by the batch), so a token's numbers are the same however the prompt
  // was chunked or batched (Decoder::attention).
  int32_t first_generated = std::numeric_limits<int32_t>::max();
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
  // out = norm(x) with the model's norm (RMSNorm, or LayerNorm with bias b when b is not empty).
  void norm(float* out, const float* x, const std::vector<float>& w, const std::vector<float>& b) const;
  // xb_ = norm(x_) on rows 0..n-1, split between the pool's threads.
  void norm_rows(int32_t n, const std::vector<float>& w, const std::vector<float>& b);
  // The mixture-of-experts FFN of layer `layer` on rows xb_[0..n): result in xb_.
  void mixture_of_experts(const LayerWeights& w, int32_t n);

  const ModelConfig& config_;
  const ModelWeights& weights_;
  ThreadPool& pool_;
  int32_t max_batch_;
  RopeTable rope_;
  // Norm weights widened to float once (files may store them as F16/BF16).
  std::vector<std::vector<float>> attn_norm_, ffn_norm_;
  std::vector<float> output_norm_;
  // Family options, widened once; an empty vector is an absent tensor.
  std::vector<std::vector<float>> attn_norm_b_, ffn_norm_b_, bq_, bk_, bv_, bo_, b_up_, b_down_;
  std::vector<float> output_norm_b_, embd_norm_, embd_norm_b_;
  std::vector<float> alibi_;  // ALiBi slope per head
  // Mixture of experts: router probabilities, each row's chosen experts and weights, and the
  // rows gathered for one expert at a time.
  std::vector<float> router_, moe_weight_, moe_x_, moe_y_, moe_out_, moe_row_weight_;
  std::vector<int32_t> moe_choice_, moe_rows_;
  // Per batch row: its position and where its key/value go (block table, sequence).
  std::vector<int32_t> row_pos_;
  std::vector<const SequenceStep*> row_seq_;
  // Activations, row-major [row][feature].
  std::vector<float> x_, xb_, q_, k_, v_, att_, hb_, hb2_;
  std::vector<float> logits_;  // classifier rows of a multi-sequence batch, before scattering; grown on demand
  // Attention works on runs of up to run_rows_ consecutive rows of one sequence, with all the
  // query heads of one KV head at once: per thread, scratch_floats_ of attention_scratch_ and
  // room for one run's queries in queries_; run_start_: the first row of each run of the batch.
  int32_t run_rows_;
  size_t scratch_floats_;
  std::vector<float> attention_scratch_;
  std::vector<AttentionQuery> queries_;
  std::vector<int32_t> run_start_;
};

// Runs `tokens` of one sequence, at positions pos.., in as many forward batches as the decoder
// carries. Logits: the last token's (vocab floats), or with all_logits every token's (n x vocab).
void forward_sequence(Decoder& decoder, KvStore& kv, std::span<const int32_t> blocks, std::span<const int32_t> tokens,
                      int32_t pos, float* logits, bool all_logits = false);

// A single sequence in KV storage of its own, its blocks in order: what the command line and
// the library's Session use. Splits long inputs into batches the decoder can carry.
class SequenceRunner {
 public:
  SequenceRunner(const LoadedModel& model, int32_t context_length, ThreadPool& pool, KvCacheTypes cache_types = {});

  // Runs tokens at positions pos.. (appending to the cache). Logits: the last token's
  // (vocab floats), or with all_logits every token's (n x vocab floats).
  void forward(std::span<const int32_t> tokens, int32_t pos, float* logits, bool all_logits = false);

  // Runs one generated token at position pos (logits: vocab floats), as the serving engine runs
  // a decode step, so that a generation gives the numbers it gets there.
  void decode(int32_t token, int32_t pos, float* logits);

  int32_t context_length() const { return context_; }
  const ModelConfig& config() const { return decoder_.config(); }

 private:
  static constexpr int32_t kBlockSize = 16;
  static constexpr int32_t kMaxBatch = 64;
  int32_t context_;
  Decoder decoder_;
  KvStore kv_;
  std::vector<int32_t> blocks_;  // 0, 1, 2, ..., or with a sliding window a ring: i mod its blocks
};

}  // namespace lumen
