#include "runtime/perplexity.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "util/error.h"

namespace lumen {
namespace {

constexpr char kMagic[8] = {'_', 'l', 'o', 'g', 'i', 't', 's', '_'};
constexpr size_t kHeaderBytes = 8 + 3 * 4;
// The base file keeps log-probabilities down to this far below the top one (llama-perplexity's
// range; the KL sum skips the tokens below it).
constexpr float kRange = 16.0f;

void log_softmax(const float* logits, int32_t n, float* out) {
  const float max = *std::max_element(logits, logits + n);
  double sum = 0;
  for (int32_t i = 0; i < n; ++i) sum += std::exp(double(logits[i]) - max);
  const float log_sum = float(std::log(sum)) + max;
  for (int32_t i = 0; i < n; ++i) out[i] = logits[i] - log_sum;
}

using File = std::unique_ptr<FILE, int (*)(FILE*)>;

}  // namespace

void BaseLogProbs::append_row(const float* logits) {
  const size_t at = rows.size();
  rows.resize(at + row_size(), 0);
  const float max = *std::max_element(logits, logits + vocab);
  const float min = std::max(*std::min_element(logits, logits + vocab), max - kRange);
  double sum = 0;
  for (int32_t i = 0; i < vocab; ++i) sum += std::exp(double(logits[i]) - max);
  const float header[2] = {(max - min) / 65535.0f, min - max - float(std::log(sum))};  // scale, min_log_prob
  std::memcpy(&rows[at], header, sizeof header);
  if (header[0] == 0) return;  // every logit equal: all q = 0
  const float inv_scale = 1.0f / header[0];
  for (int32_t i = 0; i < vocab; ++i) {
    if (!(logits[i] > min)) continue;  // q = 0
    // Nearest, ties to even; the clamp only keeps the top value's rounding from passing 65535.
    rows[at + 4 + size_t(i)] = uint16_t(std::min(65535.0f, std::nearbyint(inv_scale * (logits[i] - min))));
  }
}

void BaseLogProbs::log_probs(size_t i, float* out) const {
  const uint16_t* row = &rows[i * row_size()];
  float header[2];
  std::memcpy(header, row, sizeof header);
  for (int32_t v = 0; v < vocab; ++v) out[v] = header[0] * float(row[4 + v]) + header[1];
}

void BaseLogProbs::save(const std::string& path) const {
  File f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f) fail("cannot write ", path);
  const int32_t header[3] = {context, vocab, windows};
  const bool ok = std::fwrite(kMagic, 1, 8, f.get()) == 8 && std::fwrite(header, 4, 3, f.get()) == 3 &&
                  std::fwrite(tokens.data(), 4, tokens.size(), f.get()) == tokens.size() &&
                  std::fwrite(rows.data(), 2, rows.size(), f.get()) == rows.size();
  if (!ok) fail("write to ", path, " failed");
}

BaseLogProbs BaseLogProbs::load(const std::string& path) {
  File f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) fail("cannot open base logits file ", path);
  char magic[8];
  int32_t header[3];
  if (std::fread(magic, 1, 8, f.get()) != 8 || std::memcmp(magic, kMagic, 8) != 0)
    fail(path, " is not a base log-probabilities file (no _logits_ magic)");
  if (std::fread(header, 4, 3, f.get()) != 3) fail(path, ": truncated header");
  std::fseek(f.get(), 0, SEEK_END);
  const uint64_t size = uint64_t(std::ftell(f.get()));
  BaseLogProbs b;
  b.context = header[0];
  b.vocab = header[1];
  b.windows = header[2];
  // Check the counts against the file before allocating anything (each bounded, so no product overflows).
  if (b.context < 4 || b.context > (1 << 24) || b.vocab < 1 || b.vocab > (1 << 24) || b.windows < 1 ||
      b.windows > (1 << 24))
    fail(path, ": implausible header (context ", b.context, ", vocabulary ", b.vocab, ", windows ", b.windows, ")");
  const uint64_t n_tokens = uint64_t(b.windows) * uint64_t(b.context);
  const uint64_t n_rows = uint64_t(b.windows) * uint64_t(b.scored_per_window()) * b.row_size();
  if (kHeaderBytes + 4 * n_tokens + 2 * n_rows != size) fail(path, ": header counts disagree with the file size");
  std::fseek(f.get(), long(kHeaderBytes), SEEK_SET);
  b.tokens.resize(n_tokens);
  b.rows.resize(n_rows);
  if (std::fread(b.tokens.data(), 4, b.tokens.size(), f.get()) != b.tokens.size() ||
      std::fread(b.rows.data(), 2, b.rows.size(), f.get()) != b.rows.size())
    fail(path, ": truncated data");
  return b;
}

PerplexityResult evaluate_perplexity(std::span<const int32_t> tokens, int32_t context, int32_t bos, int32_t vocab,
                                     const WindowLogits& logits, const BaseLogProbs* base, BaseLogProbs* record) {
  if (context < 4) fail("perplexity needs a context of at least 4 tokens, got ", context);
  const int64_t windows = int64_t(tokens.size()) / context;
  if (windows == 0) fail("the text has ", tokens.size(), " tokens: fewer than one window of ", context);
  if (base) {
    if (base->vocab != vocab) fail("base logits have a vocabulary of ", base->vocab, ", this model ", vocab);
    if (base->context != context)
      fail("base logits were computed with a context of ", base->context, ", this run uses ", context);
    if (base->windows != windows || base->tokens.size() != size_t(windows * context) ||
        !std::equal(base->tokens.begin(), base->tokens.end(), tokens.begin()))
      fail("base logits were computed on different tokens (another text or tokenizer)");
    if (base->rows.size() != size_t(windows * base->scored_per_window()) * base->row_size())
      fail("base logits cover a different number of positions than this text");
  }
  if (record) {
    record->context = context;
    record->vocab = vocab;
    record->windows = int32_t(windows);
    record->tokens.assign(tokens.begin(), tokens.begin() + windows * context);
    record->rows.clear();
  }
  const int32_t first_scored = context / 2;
  std::vector<float> lp(vocab), bp(vocab);
  std::vector<int32_t> window(context);
  double nll_sum = 0, nll_sq = 0, kl_sum = 0, kl_sq = 0;
  int64_t scored = 0, agree = 0;
  for (int64_t w = 0; w < windows; ++w) {
    std::copy_n(tokens.begin() + w * context, context, window.begin());
    if (bos >= 0) window[0] = bos;  // every window starts as a document does
    const std::vector<float> out = logits(window);
    for (int32_t i = first_scored; i + 1 < context; ++i, ++scored) {
      const float* row = &out[size_t(i) * vocab];
      log_softmax(row, vocab, lp.data());
      const double nll = -lp[window[i + 1]];
      nll_sum += nll;
      nll_sq += nll * nll;
      if (record) record->append_row(row);
      if (!base) continue;
      base->log_probs(size_t(scored), bp.data());
      double kl = 0;
      for (int32_t v = 0; v < vocab; ++v)
        if (bp[v] > -kRange) kl += std::exp(double(bp[v])) * (double(bp[v]) - lp[v]);
      kl_sum += kl;
      kl_sq += kl * kl;
      // max_element takes the first of equal values, as llama-perplexity's argmax does.
      agree += std::max_element(bp.begin(), bp.end()) - bp.begin() == std::max_element(row, row + vocab) - row;
    }
  }
  PerplexityResult r;
  r.scored = scored;
  const double mean = nll_sum / scored, var = std::max(0.0, nll_sq / scored - mean * mean);
  r.perplexity = std::exp(mean);
  r.perplexity_stderr = r.perplexity * std::sqrt(var / std::max<int64_t>(1, scored - 1));
  if (base) {
    const double kmean = kl_sum / scored, kvar = std::max(0.0, kl_sq / scored - kmean * kmean);
    r.kl_divergence = kmean;
    r.kl_stderr = std::sqrt(kvar / std::max<int64_t>(1, scored - 1));
    r.top1_agreement = double(agree) / scored;
  }
  return r;
}

}  // namespace lumen
