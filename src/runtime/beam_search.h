#pragma once
// Beam search over a decoder-only model (BeamScorer says how beams are chosen and scored).
//
// The KV cache is paged as the serving engine's: the prompt is prefilled once, and every beam
// has a block table. A beam that continues another shares its blocks (reference counted, no
// copy); the only block a beam writes is the one holding its next position, and if that block is
// shared — the parent's partly filled last block, which several children continue — the beam
// first takes a private copy of its filled slots (copy-on-write). Full blocks are never written
// again, so they stay shared. All live beams then run as one batched forward per step; the
// kernels are batch-invariant, so each beam's logits are the bits it would get alone.
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "models/decoder.h"
#include "runtime/beam_scorer.h"
#include "runtime/block_manager.h"
#include "runtime/generator.h"

namespace lumen {

struct BeamParams {
  int32_t beams = 4;
  double length_penalty = 1.0;  // HF's: score = sum_logprobs / length ^ length_penalty
  int32_t max_new_tokens = 64;  // at most this many, and no more than the context holds
};

class BeamSearch {
 public:
  // One forward carries every beam, so the decoder's batch bounds them; it is also the prompt's
  // chunk, as SequenceRunner's, so a prompt's numbers are the same here and there.
  static constexpr int32_t kMaxBeams = 64;

  BeamSearch(const LoadedModel& model, int32_t context_length, ThreadPool& pool, KvCacheTypes cache_types,
             std::vector<int32_t> end_tokens);

  // The best hypotheses after `prompt` (at least one token), best first, at most p.beams; none
  // when max_new_tokens is 0. stats.generated_tokens counts the tokens run for all beams.
  std::vector<BeamHypothesis> search(std::span<const int32_t> prompt, const BeamParams& p, GenerationStats& stats);

  int32_t context_length() const { return decoder_.max_positions(); }

 private:
  // Gives `table` a block of its own for position pos (a fresh one at a block's first slot, else
  // a copy of a shared last block), so writing there touches no other beam.
  void own_block_for(std::vector<int32_t>& table, int32_t pos, BlockManager& blocks);
  void release(std::vector<std::vector<int32_t>>& tables, BlockManager& blocks);

  Decoder decoder_;
  KvCacheTypes cache_types_;
  std::vector<int32_t> end_tokens_;
  std::unique_ptr<KvStore> kv_;  // sized by the first search that needs more
  std::vector<float> logits_;     // a row per live beam
};

}  // namespace lumen
