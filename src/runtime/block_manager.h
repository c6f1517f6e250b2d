#pragma once
// Hands out the KV blocks of a KvStore to sequences (vLLM's block manager), with prefix caching:
// a full block is identified by its tokens and the block before it, so sequences whose prompts
// start alike share those blocks (reference counted). A block nobody uses keeps its contents
// and its identity until it is needed for something else, least recently used first.
#include <cstdint>
#include <list>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

namespace lumen {

class BlockManager {
 public:
  BlockManager(int32_t n_blocks, int32_t block_size);

  // A fresh block for new contents (evicting the least recently used cached block if it must),
  // or nullopt when every block is in use.
  std::optional<int32_t> allocate();

  // The cached block holding exactly `tokens` (block_size of them) after block `parent` (-1 for
  // the first block of a sequence); it gains a reference. nullopt on a miss.
  std::optional<int32_t> lookup(int32_t parent, std::span<const int32_t> tokens);

  // Records that `block` (just filled) holds `tokens` after `parent`, so later lookups find it.
  void publish(int32_t block, int32_t parent, std::span<const int32_t> tokens);

  // One more reference to a block in use (a beam that continues from another shares its blocks).
  void retain(int32_t block);
  int32_t references(int32_t block) const { return refs_[block]; }

  // Drops one reference; at zero the block is free, and stays cached if it was published.
  void release(int32_t block);

  int32_t block_size() const { return block_size_; }
  int32_t total() const { return int32_t(refs_.size()); }
  int32_t used() const { return used_; }               // blocks with a reference
  int32_t cached() const { return int32_t(lru_.size()); }  // free, but holding a published prefix
  int32_t available() const { return total() - used_; }  // free, cached or not

 private:
  // A block's parent is named by the uid its contents got when published, not by its block id:
  // when a parent block is evicted and reused, its old children can no longer match.
  struct Key {
    uint64_t parent_uid;
    std::vector<int32_t> tokens;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  void unpublish(int32_t block);
  std::optional<uint64_t> parent_uid(int32_t parent) const;  // 0 for the first block (parent -1)

  int32_t block_size_;
  std::vector<int32_t> refs_;
  std::vector<int32_t> empty_;                  // free blocks without cached contents
  std::list<int32_t> lru_;                      // free blocks with cached contents, oldest first
  std::vector<std::list<int32_t>::iterator> lru_pos_;
  std::vector<std::optional<Key>> key_of_;      // what a published block holds
  std::vector<uint64_t> uid_of_;                // its contents' uid (0: not published)
  uint64_t next_uid_ = 1;
  std::unordered_map<Key, int32_t, KeyHash> by_key_;
  int32_t used_ = 0;
};

}  // namespace lumen
