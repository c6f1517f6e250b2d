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
