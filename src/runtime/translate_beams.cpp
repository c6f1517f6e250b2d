#include "runtime/translate_beams.h"

namespace lumen {

TranslationBeams translate_beams(Translator& translator, std::span<const int32_t> source, int32_t beams,
                                 double length_penalty, int32_t max_tokens) {
  const Seq2SeqConfig& c = translator.config();
  BeamScorer scorer(beams, length_penalty, {c.eos_id});
  translator.start(source, max_tokens, beams);
  TranslationBeams result;
  // BOS is the one live beam before the first step, as the prompt is in the decoder-only search.
  std::vector<int32_t> tokens{c.bos_id}, parents;
  for (int32_t pos = 0;; ++pos) {
    const std::span<const BeamChoice> choices = scorer.step(translator.step(tokens, pos), c.tgt_vocab_size);
    // The last token chosen is never run: at most max_tokens target tokens, as greedy decoding.
    if (scorer.done() || pos + 1 == max_tokens) break;
    tokens.clear();
    parents.clear();
    for (const BeamChoice& choice : choices) {
      tokens.push_back(choice.token);
      parents.push_back(choice.parent);
    }
    translator.reorder(parents, pos + 1);
    result.beam_tokens += int32_t(tokens.size());
  }
  result.best = scorer.finish();
  return result;
}

}  // namespace lumen
