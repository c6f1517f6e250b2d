#include "runtime/sampler.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <numeric>

#include "util/error.h"

namespace lumen {
namespace {

// A key whose unsigned order is the candidates' order, larger logits first: the bits of a
// positive float grow with it, those of a negative one as it falls, hence the two cases. -0
// becomes +0 first: the two compare equal, so they tie, and ties go to the lower id.
uint32_t descending_key(float logit) {
  const uint32_t bits = std::bit_cast<uint32_t>(logit + 0.0f);
  return bits & 0x80000000u ? bits : ~bits & 0x7fffffffu;
}

}  // namespace

int32_t argmax(const float* x, int32_t n) {
  int32_t best = 0;
  for (int32_t i = 1; i < n; ++i)
    if (x[i] > x[best]) best = i;
  return best;
}

Sampler::Sampler(SamplingParams p, int32_t vocab_size) : params_(p), rng_(p.seed) {
  if (!(p.temperature >= 0.0f)) fail("temperature ", p.temperature, " must be ≥ 0");
  if (p.top_k < 0) fail("top-k ", p.top_k, " must be ≥ 0");
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) fail("top-p ", p.top_p, " must be in (0, 1]");
  if (!(p.min_p >= 0.0f && p.min_p <= 1.0f)) fail("min-p ", p.min_p, " must be in [0, 1]");
  if (!(p.repeat_penalty > 0.0f)) fail("repeat penalty ", p.repeat_penalty, " must be > 0");
  if (p.repeat_last_n < 0) fail("repeat-last-n ", p.repeat_last_n, " must be ≥ 0");
  candidates_.resize(vocab_size);
  if (!top_k_cuts()) spare_.resize(vocab_size);
  penalised_.resize(vocab_size);
}

// Candidates into logit-descending order, lower id first on ties, by a least-significant-digit
// radix sort, one byte of the key per pass: each pass is stable, so ties keep the id order the
// candidates start in. Draws depend on that exact order. std::sort with top-k's comparison gives
// the same one but takes about eight times as long over a 32000-token vocabulary, where it was
// most of a draw's time.
void Sampler::sort_candidates() {
  for (int shift = 0; shift < 32; shift += 8) {
    std::array<int32_t, 257> start{};  // start[d + 1] counts digit d, then the prefix sums place it
    for (const Candidate& c : candidates_) ++start[((descending_key(c.logit) >> shift) & 0xff) + 1];
    std::partial_sum(start.begin(), start.end(), start.begin());
    for (const Candidate& c : candidates_) spare_[start[(descending_key(c.logit) >> shift) & 0xff]++] = c;
    candidates_.swap(spare_);
  }
}

double Sampler::uniform() { return double(rng_() >> 11) * 0x1.0p-53; }

int32_t Sampler::sample(float* logits, std::span<const int32_t> recent) {
  const int32_t n = int32_t(candidates_.size());
  if (params_.repeat_penalty != 1.0f) {
    // CTRL-style penalty as llama.cpp applies it: shrink positive logits, grow negative ones.
    const size_t from = recent.size() > size_t(params_.repeat_last_n) ? recent.size() - params_.repeat_last_n : 0;
    for (size_t i = from; i < recent.size(); ++i) {
      const int32_t t = recent[i];
      if (t < 0 || t >= n || penalised_[t]) continue;
      penalised_[t] = 1;
      logits[t] = logits[t] > 0 ? logits[t] / params_.repeat_penalty : logits[t] * params_.repeat_penalty;
    }
    for (size_t i = from; i < recent.size(); ++i)
      if (recent[i] >= 0 && recent[i] < n) penalised_[recent[i]] = 0;
  }
  if (params_.temperature == 0.0f) return argmax(logits, n);

  for (int32_t i = 0; i < n; ++i) candidates_[i] = {i, logits[i], 0.0f};
  int32_t kept = n;
  if (top_k_cuts()) {
    auto by_logit = [](const Candidate& a, const Candidate& b) {
      return a.logit != b.logit ? a.logit > b.logit : a.id < b.id;
    };
    std::partial_sort(candidates_.begin(), candidates_.begin() + params_.top_k, candidates_.end(), by_logit);
    kept = params_.top_k;
  } else {
    sort_candidates();
  }
  auto normalise = [&](float temperature) {
    const float max = candidates_[0].logit;
    double sum = 0.0;
    for (int32_t i = 0; i < kept; ++i) sum += candidates_[i].prob = std::exp((candidates_[i].logit - max) / temperature);
    for (int32_t i = 0; i < kept; ++i) candidates_[i].prob = float(candidates_[i].prob / sum);
  };
  if (params_.top_p < 1.0f || params_.min_p > 0.0f) normalise(1.0f);  // only these two cuts read it
  if (params_.top_p < 1.0f) {  // smallest prefix whose mass reaches top_p
    double cum = 0.0;
    for (int32_t i = 0; i < kept; ++i) {
      cum += candidates_[i].prob;
      if (cum >= params_.top_p) {
        kept = i + 1;
        break;
      }
    }
  }
  if (params_.min_p > 0.0f) {  // drop tokens less likely than min_p x the most likely
    const float floor = params_.min_p * candidates_[0].prob;
    int32_t i = 1;
    while (i < kept && candidates_[i].prob >= floor) ++i;
    kept = i;
  }
  normalise(params_.temperature);
  double r = uniform(), cum = 0.0;
  for (int32_t i = 0; i < kept; ++i) {
    cum += candidates_[i].prob;
    if (r < cum) return candidates_[i].id;
  }
  return candidates_[kept - 1].id;
}

}  // namespace lumen
