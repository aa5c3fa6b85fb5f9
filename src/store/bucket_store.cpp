#include "store/bucket_store.h"

#include <functional>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <utility>

namespace store {
namespace {

// Lets the maps be searched with a string_view, so a lookup never builds a temporary std::string.
struct TransparentHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const noexcept { return std::hash<std::string_view>{}(text); }
};

// A cache line: shards sit side by side in one array, and a lock taken on one must not slow its neighbour.
constexpr std::size_t kCacheLineBytes = 64;

// Adds `bytes` to `stored` unless the total would pass `max_bytes`. Relaxed ordering is enough: the
// counters are totals only; the values they describe are guarded by the shard locks.
bool try_reserve(std::atomic<std::size_t>& stored, std::size_t max_bytes, std::size_t bytes) noexcept {
  std::size_t current = stored.load(std::memory_order_relaxed);
  do {
    if (bytes > max_bytes || current > max_bytes - bytes) return false;
  } while (!stored.compare_exchange_weak(current, current + bytes, std::memory_order_relaxed));
  return true;
}

void release(std::atomic<std::size_t>& stored, std::size_t bytes) noexcept {
  stored.fetch_sub(bytes, std::memory_order_relaxed);
}

}  // namespace

struct alignas(kCacheLineBytes) BucketStore::Shard {
  mutable std::shared_mutex mutex;
  std::unordered_map<std::string, Blob, TransparentHash, std::equal_to<>> buckets;
};

BucketStore::BucketStore(std::size_t max_bytes, std::size_t shard_count)
    : max_bytes_(max_bytes),
      shard_count_(shard_count == 0 ? 1 : shard_count),
      shards_(std::make_unique<Shard[]>(shard_count_)) {}

BucketStore::~BucketStore() = default;

BucketStore::Shard& BucketStore::shard_for(std::string_view id) const noexcept {
  return shards_[std::hash<std::string_view>{}(id) % shard_count_];
}

BucketStore::PutResult BucketStore::put(std::string_view id, std::string&& value) {
  // Both are declared before the lock so that they are destroyed after it is released: the allocation
  // happens, and a replaced or refused value is freed, while other threads can use the shard.
  Blob replacement = std::make_shared<const std::string>(std::move(value));
  Blob previous;
  Shard& shard = shard_for(id);
  std::unique_lock lock(shard.mutex);

  const auto found = shard.buckets.find(id);
  const std::size_t old_size = found == shard.buckets.end() ? 0 : found->second->size();
  const std::size_t new_size = replacement->size();
  if (new_size > old_size) {
    if (!try_reserve(stored_bytes_, max_bytes_, new_size - old_size)) return PutResult::kCapacityExceeded;
  } else {
    release(stored_bytes_, old_size - new_size);
  }

  if (found != shard.buckets.end()) {
    previous = std::exchange(found->second, std::move(replacement));
    return PutResult::kReplaced;
  }
  try {
    shard.buckets.emplace(std::string(id), std::move(replacement));
  } catch (...) {
    // Keep the accounting exact even when the map cannot grow.
    release(stored_bytes_, new_size);
    throw;
  }
  bucket_count_.fetch_add(1, std::memory_order_relaxed);
  return PutResult::kCreated;
}

Blob BucketStore::get(std::string_view id) const {
  const Shard& shard = shard_for(id);
  std::shared_lock lock(shard.mutex);
  const auto found = shard.buckets.find(id);
  return found == shard.buckets.end() ? Blob{} : found->second;
}

bool BucketStore::erase(std::string_view id) {
  // The extracted node (id and value) is freed after the lock is released, when this function returns.
  decltype(Shard::buckets)::node_type removed;
  Shard& shard = shard_for(id);
  std::unique_lock lock(shard.mutex);
  const auto found = shard.buckets.find(id);
  if (found == shard.buckets.end()) return false;
  release(stored_bytes_, found->second->size());
  bucket_count_.fetch_sub(1, std::memory_order_relaxed);
  removed = shard.buckets.extract(found);
  return true;
}

bool BucketStore::would_fit(std::size_t value_size) const noexcept {
  const std::size_t stored = stored_bytes();
  return stored <= max_bytes_ && value_size <= max_bytes_ - stored;
}

}  // namespace store
