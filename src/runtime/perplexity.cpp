#include "runtime/perplexity.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include "util/error.h"

namespace lumen {
namespace {

constexpr char kMagic[8] = {'L', 'U', 'M', 'E', 'N', 'K', 'L', '1'};

void log_softmax(const float* logits, int32_t n, float* out) {
  float max = logits[0];
  for (int32_t i = 1; i < n; ++i) max = std::max(max, logits[i]);
  double sum = 0;
  for (int32_t i = 0; i < n; ++i) sum += std::exp(double(logits[i]) - max);
  const float log_sum = float(std::log(sum)) + max;
  for (int32_t i = 0; i < n; ++i) out[i] = logits[i] - log_sum;
}

using File = std::unique_ptr<FILE, int (*)(FILE*)>;

}  // namespace

void BaseLogProbs::save(const std::string& path) const {
  File f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f) fail("cannot write ", path);
  const uint64_t header[3] = {uint64_t(vocab), tokens.size(), log_probs.size()};
  const bool ok = std::fwrite(kMagic, 1, 8, f.get()) == 8 && std::fwrite(header, 8, 3, f.get()) == 3 &&
                  std::fwrite(tokens.data(), 4, tokens.size(), f.get()) == tokens.size() &&
                  std::fwrite(log_probs.data(), 4, log_probs.size(), f.get()) == log_probs.size();
  if (!ok) fail("write to ", path, " failed");
}

BaseLogProbs BaseLogProbs::load(const std::string& path) {
  File f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) fail("cannot open base logits file ", path);
  char magic[8];
  uint64_t header[3];
  if (std::fread(magic, 1, 8, f.get()) != 8 || std::memcmp(magic, kMagic, 8) != 0)
    fail(path, " is not a lumen base-logits file (wrong magic)");
  if (std::fread(header, 8, 3, f.get()) != 3) fail(path, ": truncated header");
  std::fseek(f.get(), 0, SEEK_END);
  const uint64_t size = uint64_t(std::ftell(f.get()));
  // Check the counts against the file before allocating anything.
  if (header[0] == 0 || header[0] > (1u << 24) || header[1] > size / 4 || header[2] > size / 4 ||
      32 + 4 * (header[1] + header[2]) != size || header[2] % header[0] != 0)
    fail(path, ": header counts disagree with the file size");
  std::fseek(f.get(), 32, SEEK_SET);
  BaseLogProbs b;
  b.vocab = int32_t(header[0]);
  b.tokens.resize(header[1]);
  b.log_probs.resize(header[2]);
  if (std::fread(b.tokens.data(), 4, b.tokens.size(), f.get()) != b.tokens.size() ||
      std::fread(b.log_probs.data(), 4, b.log_probs.size(), f.get()) != b.log_probs.size())
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
    if (!std::equal(tokens.begin(), tokens.end(), base->tokens.begin(), base->tokens.end()))
      fail("base logits were computed on different tokens (another text or tokenizer)");
  }
  if (record) {
    record->vocab = vocab;
    record->tokens.assign(tokens.begin(), tokens.end());
    record->log_probs.clear();
  }
  const int32_t first_scored = context / 2;
  std::vector<float> lp(vocab);
  std::vector<int32_t> window(context);
  double nll_sum = 0, nll_sq = 0, kl_sum = 0, kl_sq = 0;
  int64_t scored = 0, agree = 0;
  for (int64_t w = 0; w < windows; ++w) {
    std::copy_n(tokens.begin() + w * context, context, window.begin());
    window[0] = bos;  // every window starts as a document does
    const std::vector<float> out = logits(window);
    for (int32_t i = first_scored; i + 1 < context; ++i, ++scored) {
      log_softmax(&out[size_t(i) * vocab], vocab, lp.data());
      const double nll = -lp[window[i + 1]];
      nll_sum += nll;
      nll_sq += nll * nll;
      if (record) record->log_probs.insert(record->log_probs.end(), lp.begin(), lp.end());
      if (!base) continue;
      if (size_t(scored + 1) * vocab > base->log_probs.size()) fail("base logits cover fewer positions than this text");
      const float* bp = &base->log_probs[size_t(scored) * vocab];
      double kl = 0;
      for (int32_t v = 0; v < vocab; ++v) kl += std::exp(double(bp[v])) * (double(bp[v]) - lp[v]);
      kl_sum += kl;
      kl_sq += kl * kl;
      agree += std::max_element(bp, bp + vocab) - bp == std::max_element(lp.begin(), lp.end()) - lp.begin();
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
