// KV cache storage types and the block manager's bookkeeping.
#include <gtest/gtest.h>

#include <cmath>

#include "formats/loaded_model.h"
#include "models/decoder.h"
#include "runtime/block_manager.h"
#include "runtime/kv_cache.h"
#include "test_paths.h"
#include "util/error.h"

namespace lumen {
namespace {

TEST(KvCache, CacheTypeNamesAreLlamaCpps) {
  EXPECT_EQ(parse_cache_type("f16"), DType::F16);
  EXPECT_EQ(parse_cache_type("f32"), DType::F32);
  EXPECT_EQ(parse_cache_type("q8_0"), DType::Q8_0);
  EXPECT_THROW(parse_cache_type("q3_k"), Error);
}

TEST(KvCache, Q8CacheNeedsHeadsOfWholeBlocks) {
  // stories260K has 8-wide heads: a 32-value block would straddle four of them.
  auto model = load_model(test::source_path("models/stories260K.bin"), test::source_path("models/tok512.bin"));
  ThreadPool pool(1);
  EXPECT_THROW(SequenceRunner(*model, 16, pool, {DType::Q8_0, DType::F16}), Error);
}

TEST(KvCache, Q8CacheStaysCloseToF32) {
  // rand-gqa has 32-wide heads.
  auto model = load_model(test::generated_model_path("rand-gqa.bin"), test::source_path("models/tokenizer.bin"));
  ThreadPool pool(2);
  SequenceRunner f32(*model, 64, pool, {DType::F32, DType::F32}), q8(*model, 64, pool, {DType::Q8_0, DType::Q8_0});
  const std::vector<int32_t> tokens{1, 9038, 2501, 263, 931, 6989, 15344, 6583, 2901, 10155};
  const int32_t vocab = model->config.vocab_size;
  std::vector<float> a(tokens.size() * vocab), b(tokens.size() * vocab);
  f32.forward(tokens, 0, a.data(), true);
  q8.forward(tokens, 0, b.data(), true);
  float max_err = 0, max_ref = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    max_err = std::max(max_err, std::abs(a[i] - b[i]));
    max_ref = std::max(max_ref, std::abs(a[i]));
  }
  EXPECT_GT(max_err, 0.0f);
  EXPECT_LT(max_err / max_ref, 3e-2f);  // 8-bit values with a per-32 scale
}

TEST(KvCache, F16CacheStaysCloseToF32) {
  auto model = load_model(test::source_path("models/stories260K.bin"), test::source_path("models/tok512.bin"));
  ThreadPool pool(1);
  SequenceRunner f32(*model, 64, pool, {DType::F32, DType::F32}), f16(*model, 64, pool, {DType::F16, DType::F16});
  const std::vector<int32_t> tokens{1, 403, 407, 261, 378, 432, 383, 286, 261, 376};
  std::vector<float> a(tokens.size() * 512), b(tokens.size() * 512);
  f32.forward(tokens, 0, a.data(), true);
  f16.forward(tokens, 0, b.data(), true);
  float max_err = 0, max_ref = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    max_err = std::max(max_err, std::abs(a[i] - b[i]));
    max_ref = std::max(max_ref, std::abs(a[i]));
  }
  EXPECT_GT(max_err, 0.0f) << "the f16 cache should round something";
  EXPECT_LT(max_err / max_ref, 1e-2f);  // half precision keeps ~3 decimal digits
}

// A sliding-window model's single-sequence cache is a ring of blocks (models/decoder.h): with a
// window of 8 the ring holds blocks_for(8 + 64) + 1 = 6 blocks, 96 positions, and 300 positions
// wrap it three times. Every position's logits must equal, bit for bit, those of the same
// forward over a cache that keeps every position; and the window must matter (the test would
// pass vacuously if it were ignored).
TEST(SlidingWindow, RingCacheGivesTheWholeCachesLogits) {
  auto model = load_model(test::source_path("models/stories260K.bin"), test::source_path("models/tok512.bin"));
  model->config.sliding_window = 8;
  const ModelConfig& c = model->config;
  const int32_t vocab = c.vocab_size, prompt = 100, total = 300;
  std::vector<int32_t> tokens(total);
  for (int32_t i = 0; i < total; ++i) tokens[i] = 1 + (i * 37 + i / 7) % (vocab - 1);

  ThreadPool pool(2);
  SequenceRunner ring(*model, 0, pool);
  Decoder decoder(*model, c.context_length, 64, pool);
  KvStore whole(c.n_layers, blocks_for(c.context_length, 16), 16, c.n_kv_heads, c.head_dim(), {});
  std::vector<int32_t> table(size_t(whole.n_blocks()));
  for (size_t i = 0; i < table.size(); ++i) table[i] = int32_t(i);

  std::vector<float> got(size_t(prompt) * vocab), want(got.size());
  ring.forward(std::span(tokens).first(prompt), 0, got.data(), true);
  forward_sequence(decoder, whole, table, std::span(tokens).first(prompt), 0, want.data(), true);
  ASSERT_EQ(got, want) << "prompt";
  got.resize(vocab);
  want.resize(vocab);
  for (int32_t pos = prompt; pos < total; ++pos) {
    ring.decode(tokens[pos], pos, got.data());
    SequenceStep step{std::span(&tokens[pos], 1), pos, table, want.data(), false, pos};
    decoder.forward({&step, 1}, whole);
    ASSERT_EQ(got, want) << "position " << pos;
  }

  model->config.sliding_window = 0;  // the same last step without the window
  SequenceRunner unwindowed(*model, 0, pool);
  std::vector<float> all(size_t(total) * vocab);
  unwindowed.forward(tokens, 0, all.data(), true);
  EXPECT_NE(std::vector<float>(all.end() - vocab, all.end()), got);
}

TEST(BlockManager, SharesPublishedBlocksAndEvictsLeastRecentlyUsed) {
  BlockManager m(3, 2);
  const std::vector<int32_t> a{5, 6}, b{7, 8};
  const int32_t first = *m.allocate();
  m.publish(first, -1, a);
  EXPECT_EQ(m.lookup(-1, a), first);  // a second reference
  EXPECT_EQ(m.used(), 1);
  m.release(first);
  m.release(first);
  EXPECT_EQ(m.used(), 0);
  EXPECT_EQ(m.cached(), 1);
  EXPECT_EQ(m.lookup(-1, a), first);  // still cached after every reference went
  m.release(first);
  // Fill the other two blocks, then one more allocation must evict the cached one.
  (void)*m.allocate();
  (void)*m.allocate();
  EXPECT_EQ(m.allocate(), first);
  EXPECT_FALSE(m.lookup(-1, a).has_value());
  EXPECT_FALSE(m.allocate().has_value());
  EXPECT_FALSE(m.lookup(-1, b).has_value());
}

TEST(BlockManager, ChildrenOfAnEvictedParentNoLongerMatch) {
  BlockManager m(2, 1);
  const int32_t parent = *m.allocate(), child = *m.allocate();
  m.publish(parent, -1, std::vector<int32_t>{1});
  m.publish(child, parent, std::vector<int32_t>{2});
  m.release(parent);
  m.release(child);
  // Reuse the parent's block for other contents: its id is the same, its contents are not.
  const int32_t reused = *m.allocate();
  ASSERT_EQ(reused, parent);
  m.publish(reused, -1, std::vector<int32_t>{9});
  EXPECT_FALSE(m.lookup(reused, std::vector<int32_t>{2}).has_value());
}

TEST(BlockManager, DoubleReleaseIsAnError) {
  BlockManager m(1, 4);
  const int32_t b = *m.allocate();
  m.release(b);
  EXPECT_THROW(m.release(b), Error);
}

}  // namespace
}  // namespace lumen
