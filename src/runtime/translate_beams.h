#pragma once
// Beam search over the encoder–decoder Transformer (BeamScorer says how beams are chosen and
// scored, with the model's EOS as the one end token).
//
// The source is encoded once and the memory's cross-attention keys/values are shared by every
// beam. Each beam is a row of the Translator: its own self-attention cache, all live beams run
// as one batched decoder step. After each step row i takes a copy of its parent's cache
// (Translator::reorder): the decoder-only search shares paged blocks instead, but a target here
// is at most max_len tokens, so copying costs layers x 2 x beams x positions x d_model floats a
// step: as many as the step's self-attention reads, and at these lengths far fewer than the
// weights its matmuls read.
#include <cstdint>
#include <span>
#include <vector>

#include "models/encoder_decoder.h"
#include "runtime/beam_scorer.h"

namespace lumen {

struct TranslationBeams {
  std::vector<BeamHypothesis> best;  // best first, at most `beams`
  int32_t beam_tokens = 0;           // target tokens run for all beams after BOS
};

// The best translations of `source` (its ids, EOS appended) of at most max_tokens target tokens
// (1..max_len, the end token included), as Hugging Face's generate(num_beams=beams) finds them
// with early_stopping=False. One beam is greedy decoding.
TranslationBeams translate_beams(Translator& translator, std::span<const int32_t> source, int32_t beams,
                                 double length_penalty, int32_t max_tokens);

}  // namespace lumen
