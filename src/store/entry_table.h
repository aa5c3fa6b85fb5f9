#pragma once
// EntryTable: one shard's hash table from id to value. Not synchronised: the store's shard lock guards it.
//
// An entry is a single malloc'd block holding the chain link, the id's keyed hash, the value and the id's
// bytes, so an entry costs one allocation besides its value, and the store can build it before taking the
// lock and free it after. Chains hang off a power-of-two bucket array indexed by the hash's low bits (the
// store picks the shard with the high bits, so the two choices are independent). The array doubles when the
// entries outnumber the buckets and halves when they fall below a quarter of them, so beyond its fixed
// minimum it costs 8 to 32 bytes per entry. The hash is kept in the entry: a lookup compares ids only on a
// full hash match, and a resize never hashes again.
//
// A resize needs a new array. prepare_resize() reads the size without the lock and allocates the array the
// next insert or erase will probably need, so the allocation happens before the lock; under the lock the
// table uses it when it fits, allocates only when it does not, and hands back the old array to be freed
// after the lock. A resize that cannot be allocated is skipped: longer chains, still correct.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "base/shared_bytes.h"

namespace store {

struct Entry {
  Entry* next = nullptr;
  std::uint64_t hash = 0;
  base::SharedBytes value;
  std::size_t id_size = 0;

  // The id's bytes follow the struct in the same block.
  std::string_view id() const noexcept { return {reinterpret_cast<const char*>(this + 1), id_size}; }
};

struct EntryDeleter {
  void operator()(Entry* entry) const noexcept;
};
using EntryPtr = std::unique_ptr<Entry, EntryDeleter>;

// A new entry owning `value`; null (and the value dropped) when the block cannot be allocated.
EntryPtr make_entry(std::uint64_t hash, std::string_view id, base::SharedBytes value) noexcept;

// A bucket array, or none.
class BucketArray {
 public:
  BucketArray() noexcept = default;
  static BucketArray allocate(std::size_t count) noexcept;  // none when the allocation fails
  explicit operator bool() const noexcept { return heads_ != nullptr; }
  std::size_t count() const noexcept { return count_; }

 private:
  friend class EntryTable;
  std::unique_ptr<Entry*[]> heads_;
  std::size_t count_ = 0;
};

class EntryTable {
 public:
  static constexpr std::size_t kMinBuckets = 8;

  EntryTable();  // allocates the minimum array: an insert never lacks buckets
  ~EntryTable();
  EntryTable(const EntryTable&) = delete;
  EntryTable& operator=(const EntryTable&) = delete;

  // The link that points at the entry with this hash and id (to replace or remove it), or null.
  Entry** find(std::uint64_t hash, std::string_view id) const noexcept;

  // Adds an entry whose id is absent, resizing first when the table has grown full.
  // Returns the array to free after the lock (none when there was no resize).
  BucketArray insert(EntryPtr entry, BucketArray spare) noexcept;
  // Puts `entry` (same id) where *link's entry is; returns the old entry.
  EntryPtr replace(Entry** link, EntryPtr entry) noexcept;
  // Unlinks *link's entry, shrinking the array when it has become sparse. `retired` receives the array to
  // free after the lock.
  EntryPtr remove(Entry** link, BucketArray spare, BucketArray& retired) noexcept;

  // Without the lock: an array of the size the next insert (delta +1) or erase (-1) will resize to, when
  // it will. A guess only; the caller passes it to insert() or remove().
  BucketArray prepare_resize(int delta) const noexcept;

  // Exact under the lock; a recent value without it.
  std::size_t size() const noexcept { return size_.load(std::memory_order_relaxed); }
  std::size_t bucket_count() const noexcept { return count_.load(std::memory_order_relaxed); }

  // The bucket count a table of `count` buckets should move to when it holds `size` entries; 0 when
  // `count` is right.
  static std::size_t resize_target(std::size_t size, std::size_t count) noexcept;

 private:
  BucketArray resize_if_needed(std::size_t size, BucketArray spare) noexcept;
  std::size_t mask() const noexcept { return bucket_count() - 1; }

  std::unique_ptr<Entry*[]> heads_;
  // Atomic only so that prepare_resize() may read them without the lock; written under it.
  std::atomic<std::size_t> count_{0};
  std::atomic<std::size_t> size_{0};
};

}  // namespace store
