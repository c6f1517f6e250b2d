#include "runtime/beam_search.h"

#include <algorithm>

#include "util/error.h"

namespace lumen {
namespace {

constexpr int32_t kBlockSize = 16;  // as SequenceRunner's and the serving engine's

int32_t allocate(BlockManager& blocks) {
  const auto block = blocks.allocate();
  // search() sizes the pool for the most blocks its beams can hold at once.
  if (!block) fail("beam search ran out of KV blocks");
  return *block;
}

}  // namespace

BeamSearch::BeamSearch(const LoadedModel& model, int32_t context_length, ThreadPool& pool, KvCacheTypes cache_types,
                       std::vector<int32_t> end_tokens)
    : decoder_(model, context_length, kMaxBeams, pool), cache_types_(cache_types), end_tokens_(std::move(end_tokens)) {}

void BeamSearch::own_block_for(std::vector<int32_t>& table, int32_t pos, BlockManager& blocks) {
  const int32_t index = pos / kBlockSize, slot = pos % kBlockSize;
  if (slot == 0) {  // the table covers positions 0 .. pos-1, so this block is a new one
    table.push_back(allocate(blocks));
    return;
  }
  int32_t& block = table[index];
  if (blocks.references(block) == 1) return;
  const int32_t copy = allocate(blocks);
  kv_->copy_slots(block, copy, slot);
  blocks.release(block);
  block = copy;
}

void BeamSearch::release(std::vector<std::vector<int32_t>>& tables, BlockManager& blocks) {
  for (const auto& table : tables)
    for (int32_t b : table) blocks.release(b);
  tables.clear();
}

std::vector<BeamHypothesis> BeamSearch::search(std::span<const int32_t> prompt, const BeamParams& p,
                                               GenerationStats& stats) {
  const ModelConfig& c = decoder_.config();
  const int32_t context = context_length(), vocab = c.vocab_size;
  if (prompt.empty()) fail("the prompt must hold at least one token (BOS)");
  check_prompt_fits(prompt.size(), context);
  if (p.beams < 1 || p.beams > kMaxBeams) fail("beam count ", p.beams, " is outside 1..", kMaxBeams);
  if (p.max_new_tokens < 0) fail("token budget ", p.max_new_tokens, " is negative");
  BeamScorer scorer(p.beams, p.length_penalty, end_tokens_);
  const int32_t P = int32_t(prompt.size());
  // The last token chosen is never fed back, so the context holds one more than it feeds.
  const int32_t budget = std::min(p.max_new_tokens, context - P + 1);
  stats = {};
  stats.prompt_tokens = P;
  if (budget == 0) return {};

  // The most blocks held at once: the prompt's full blocks, shared by all, and each beam's own
  // from there to the last position it feeds (P + budget - 2).
  const int32_t shared = P / kBlockSize;
  const int32_t n_blocks = shared + p.beams * (blocks_for(P + budget - 1, kBlockSize) - shared);
  if (!kv_ || kv_->n_blocks() < n_blocks) {
    kv_.reset();  // the old store goes before the new one is allocated
    kv_ = std::make_unique<KvStore>(c.n_layers, n_blocks, kBlockSize, c.n_kv_heads, c.head_dim(), cache_types_);
  }
  BlockManager blocks(n_blocks, kBlockSize);
  logits_.resize(size_t(p.beams) * vocab);

  // The prompt is the one live beam before the first step.
  std::vector<std::vector<int32_t>> tables(1), next;
  for (int32_t i = 0; i < blocks_for(P, kBlockSize); ++i) tables[0].push_back(allocate(blocks));
  auto start = std::chrono::steady_clock::now();
  forward_sequence(decoder_, *kv_, tables[0], prompt, 0, logits_.data());
  stats.prompt_seconds = seconds_since(start);

  start = std::chrono::steady_clock::now();
  std::vector<int32_t> fed;
  std::vector<SequenceStep> steps;
  for (int32_t n = 0; n < budget; ++n) {
    const std::span<const BeamChoice> choices = scorer.step(logits_.data(), vocab);
    if (scorer.done() || n + 1 == budget) break;
    // Each new beam shares its parent's blocks; then the old beams let theirs go.
    next.assign(choices.size(), {});
    for (size_t i = 0; i < choices.size(); ++i) {
      next[i] = tables[choices[i].parent];
      for (int32_t b : next[i]) blocks.retain(b);
    }
    release(tables, blocks);
    tables.swap(next);
    const int32_t pos = P + n;
    fed.resize(choices.size());
    steps.resize(choices.size());
    for (size_t i = 0; i < choices.size(); ++i) {
      own_block_for(tables[i], pos, blocks);
      fed[i] = choices[i].token;
      // Positions from P on are generated: attention picks its kernel by that, as for a request.
      steps[i] = {std::span(&fed[i], 1), pos, tables[i], &logits_[i * size_t(vocab)], false, P};
    }
    decoder_.forward(steps, *kv_);
    stats.generated_tokens += int32_t(choices.size());
  }
  stats.generate_seconds = seconds_since(start);
  return scorer.finish();
}

}  // namespace lumen
