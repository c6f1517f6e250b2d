#include "runtime/block_manager.h"

#include "util/error.h"

namespace lumen {

size_t BlockManager::KeyHash::operator()(const Key& k) const {
  // FNV-1a over the parent id and the token ids.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint32_t v) {
    for (int i = 0; i < 4; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 1099511628211ull;
    }
  };
  mix(uint32_t(k.parent_uid));
  mix(uint32_t(k.parent_uid >> 32));
  for (int32_t t : k.tokens) mix(uint32_t(t));
  return size_t(h);
}

BlockManager::BlockManager(int32_t n_blocks, int32_t block_size)
    : block_size_(block_size), refs_(n_blocks, 0), lru_pos_(n_blocks), key_of_(n_blocks), uid_of_(n_blocks, 0) {
  if (n_blocks < 1 || block_size < 1) fail("the KV cache needs at least one block of one position");
  // Hand out low block ids first (pop_back takes from the end).
  for (int32_t b = n_blocks - 1; b >= 0; --b) empty_.push_back(b);
}

std::optional<int32_t> BlockManager::allocate() {
  int32_t block;
  if (!empty_.empty()) {
    block = empty_.back();
    empty_.pop_back();
  } else if (!lru_.empty()) {
    block = lru_.front();  // evict the least recently used cached prefix
    lru_.pop_front();
    unpublish(block);
  } else {
    return std::nullopt;
  }
  refs_[block] = 1;
  ++used_;
  return block;
}

std::optional<uint64_t> BlockManager::parent_uid(int32_t parent) const {
  if (parent < 0) return 0;
  if (uid_of_[parent] == 0) return std::nullopt;
  return uid_of_[parent];
}

std::optional<int32_t> BlockManager::lookup(int32_t parent, std::span<const int32_t> tokens) {
  const auto uid = parent_uid(parent);
  if (!uid) return std::nullopt;
  const auto it = by_key_.find(Key{*uid, {tokens.begin(), tokens.end()}});
  if (it == by_key_.end()) return std::nullopt;
  const int32_t block = it->second;
  if (refs_[block]++ == 0) {  // was free: take it off the eviction list
    lru_.erase(lru_pos_[block]);
    ++used_;
  }
  return block;
}

void BlockManager::publish(int32_t block, int32_t parent, std::span<const int32_t> tokens) {
  const auto uid = parent_uid(parent);
  if (!uid) return;  // the parent's contents were never published, so no lookup can reach this
  Key key{*uid, {tokens.begin(), tokens.end()}};
  if (key_of_[block] || by_key_.count(key)) return;  // already known (an identical block exists)
  by_key_.emplace(key, block);
  key_of_[block] = std::move(key);
  uid_of_[block] = next_uid_++;
}

void BlockManager::unpublish(int32_t block) {
  if (!key_of_[block]) return;
  by_key_.erase(*key_of_[block]);
  key_of_[block].reset();
  uid_of_[block] = 0;
}

void BlockManager::retain(int32_t block) {
  if (refs_[block] <= 0) fail("KV block ", block, " is free: only a block in use can gain a reference");
  ++refs_[block];
}

void BlockManager::release(int32_t block) {
  if (refs_[block] <= 0) fail("KV block ", block, " released more often than it was taken");
  if (--refs_[block] > 0) return;
  --used_;
  if (key_of_[block]) {
    lru_pos_[block] = lru_.insert(lru_.end(), block);
  } else {
    empty_.push_back(block);
  }
}

}  // namespace lumen
