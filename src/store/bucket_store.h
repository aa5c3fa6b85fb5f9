#pragma once
// BucketStore: the in-memory map from bucket id to its bytes, safe to use from every event-loop thread.
//
// Ids hash to one of `shard_count` shards, each a hash map behind its own shared_mutex, so threads rarely
// contend and readers never block each other. Values are immutable shared strings: get() hands out a
// reference so a response can be written after the lock is gone, while a concurrent put() or erase()
// replaces the map entry, never the bytes a reader holds.
//
// Accounting: stored_bytes() is always the sum of the sizes of the stored values (ids not counted) and
// never exceeds max_bytes: a put() that would exceed it leaves the store unchanged and answers
// kCapacityExceeded (mapped to 507). Overwriting an id counts only the difference in size.
#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace store {

using Blob = std::shared_ptr<const std::string>;

class BucketStore {
 public:
  enum class PutResult { kCreated, kReplaced, kCapacityExceeded };

  explicit BucketStore(std::size_t max_bytes, std::size_t shard_count = 64);
  ~BucketStore();
  BucketStore(const BucketStore&) = delete;
  BucketStore& operator=(const BucketStore&) = delete;

  PutResult put(std::string_view id, std::string&& value);
  Blob get(std::string_view id) const;  // null when absent
  bool erase(std::string_view id);      // false when absent

  // True when storing `value_size` more bytes (for a new id) would still fit; a cheap early check used
  // to refuse a body before reading it. put() remains the authority.
  bool would_fit(std::size_t value_size) const noexcept;

  std::size_t bucket_count() const noexcept { return bucket_count_.load(std::memory_order_relaxed); }
  std::size_t stored_bytes() const noexcept { return stored_bytes_.load(std::memory_order_relaxed); }
  std::size_t max_bytes() const noexcept { return max_bytes_; }

 private:
  struct Shard;
  Shard& shard_for(std::string_view id) const noexcept;

  std::size_t max_bytes_;
  std::size_t shard_count_;
  std::unique_ptr<Shard[]> shards_;
  std::atomic<std::size_t> stored_bytes_{0};
  std::atomic<std::size_t> bucket_count_{0};
};

}  // namespace store
