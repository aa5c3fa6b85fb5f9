#pragma once
// BucketStore: the in-memory map from bucket id to its bytes, safe to use from every event-loop thread.
//
// Ids are hashed with SipHash-1-3 under a key drawn at start-up, so no client can choose ids that pile into
// one shard or one hash chain. The hash's high bits pick one of `shard_count` shards, each an EntryTable
// behind its own shared_mutex, so threads rarely contend and readers never block each other; its low bits
// pick the chain inside the shard. Values are immutable base::SharedBytes: get() hands out a reference, so
// a response is sent from the store's own memory after the lock is gone, while a concurrent put() or erase()
// replaces the entry, never the bytes a reader holds. Allocation happens before a shard lock is taken and
// freeing after it is released.
//
// Accounting: the store owns the MemoryAccount of its cap, and stored_bytes() is exactly what is charged
// to it:
//   - for each stored bucket, entry_cost(): its id's bytes, kEntryOverheadBytes, and its value's charge
//     (SharedBytes::header_bytes() plus the value's size, or a little more for a received body that kept
//     spare capacity);
//   - plus each value already replaced or deleted that a reader (a response being sent) still holds: it is
//     real memory until the last reference drops, and is charged until then.
// stored_bytes() never exceeds max_bytes(): a put() that would pass the cap leaves the store unchanged and
// answers kCapacityExceeded (507). Replacing a value nobody else holds needs room only for the difference;
// replacing one a reader still holds needs room for the whole new value, since both exist until it is done.
// Not counted: the store's fixed cost (the shard array and each shard's minimum bucket array: 13 KiB at 64
// shards), and the allocator's page rounding of values large enough to be mmap'd (under 4 KiB a value).
//
// Values handed out by get() must be released before the store is destroyed.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "base/memory_account.h"
#include "base/shared_bytes.h"
#include "base/siphash.h"

namespace store {

class BucketStore {
 public:
  enum class PutResult { kCreated, kReplaced, kCapacityExceeded };

  // What an entry costs beyond its id's bytes and its value's charge, with glibc's malloc on a 64-bit
  // system, as an upper bound (tests/store measure it against the real heap):
  //   32  the entry block's fixed part (chain link, hash, value reference, id length; the id follows)
  //   23  that block's malloc chunk header (8) and rounding to 16 bytes (up to 15)
  //   23  the same for the value's block, whose charge covers only its header and bytes
  //   32  its share of the shard's bucket array: 8 bytes a bucket, at least a quarter of them in use
  //  ---
  //  110, rounded up to a multiple of 16.
  static constexpr std::size_t kEntryOverheadBytes = 112;

  BucketStore(std::size_t max_bytes, const base::HashKey& key, std::size_t shard_count = 64);
  ~BucketStore();
  BucketStore(const BucketStore&) = delete;
  BucketStore& operator=(const BucketStore&) = delete;

  // Stores the builder's bytes without copying them. Their charge moves from the builder's account (the
  // budget of bodies in flight) to the store's. The builder is left empty either way; on kCapacityExceeded
  // the store is unchanged and the bytes are freed.
  PutResult put(std::string_view id, base::ByteBuilder&& value) noexcept;
  // Stores a copy of `value` (tests, small callers).
  PutResult put(std::string_view id, std::string_view value) noexcept;
  base::SharedBytes get(std::string_view id) const noexcept;  // null when absent
  bool erase(std::string_view id) noexcept;                  // false when absent

  // Whether a put of `value_size` bytes under `id` would fit now: a cheap early check used to refuse a body
  // before reading it. Replacing a value nobody else holds counts only the difference; put() remains the
  // authority.
  bool would_fit(std::string_view id, std::size_t value_size) const noexcept;

  std::size_t bucket_count() const noexcept;
  std::size_t stored_bytes() const noexcept { return account_.used(); }
  std::size_t max_bytes() const noexcept { return account_.limit(); }
  const base::MemoryAccount& account() const noexcept { return account_; }

  // What a stored bucket with an id of `id_size` bytes and a copied value of `value_size` bytes is charged
  // (saturating at SIZE_MAX).
  static std::size_t entry_cost(std::size_t id_size, std::size_t value_size) noexcept;

  // The keyed hash of an id and the shard it selects, for tests and diagnostics.
  std::uint64_t hash(std::string_view id) const noexcept { return base::siphash13(key_, id); }
  std::size_t shard_index(std::string_view id) const noexcept { return shard_of(hash(id)); }
  std::size_t shard_count() const noexcept { return shard_count_; }

 private:
  struct Shard;
  PutResult insert(std::string_view id, base::SharedBytes value) noexcept;
  // Makes `charge` (the new value's) a reservation on the store's account for a value replacing
  // `old_value`; false when the cap does not allow it, with nothing changed.
  bool charge_replacement(base::SharedBytes& old_value, base::MemoryReservation& charge) noexcept;
  std::size_t shard_of(std::uint64_t hash) const noexcept {
    // The high 32 bits scaled onto [0, shard_count): the low bits are left to choose the chain.
    return static_cast<std::size_t>(((hash >> 32) * shard_count_) >> 32);
  }

  // Declared first so that it outlives the entries, whose values release their charge into it.
  base::MemoryAccount account_;
  const base::HashKey key_;
  const std::size_t shard_count_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace store
