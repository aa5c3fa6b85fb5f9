#pragma once
// EntryTable: one shard's index from id to entry: open addressing, linear probing, Robin Hood order. Not
// synchronised: the store's shard lock guards it.
//
// A slot is 8 bytes: the entry's address (8-aligned, below kEntryAddressLimit) with 11 bits of the id's
// hash as a tag in its 3 low and 8 of its high bits, and in the top 8 bits how far the entry sits from its
// home slot. A probe reads an entry only when the tags agree (else once in 2048 probes), and keeps no other
// copy of the hash: the entry is the only place the id lives. The home is the hash's low 32 bits scaled onto
// the capacity (so any capacity works, not only powers of two), the tag comes from bits 32-42 and the shard
// from the top bits: independent choices.
//
// Robin Hood order keeps each run of occupied slots sorted by home, so a miss stops at the first entry
// nearer its home than the probe, an insert shifts the rest of its run one slot on, and an erase shifts it
// back (no tombstones). An insert that would put an entry 256 or more slots from its home is refused;
// with a keyed hash at these loads that does not happen.
//
// Capacity: an insert that would pass 90% load grows the array by half; an erase that leaves it below 30%
// shrinks it to 60%. So a growing table costs 8.9 to 13.3 bytes per entry (about 11 on average). The
// minimum, 16 slots, lives inside the table: an empty shard allocates nothing, and it is part of the
// store's fixed cost. When a larger array cannot be had the table fills on up to 97%, then refuses inserts.
// A resize rehashes every id with the store's keyed SipHash (the slots keep too little of the hash to place
// entries in another capacity): O(entries) under the lock, like the chained table before it.
//
// Arrays of 64 KiB or more are mmap'd, so that a replaced one is returned to the system at once rather
// than left as a hole in the heap; smaller ones are malloc'd. charge() is what an array takes: its size
// rounded to pages, or its malloc chunk. The store allocates a resize's array under the lock, when the
// resize happens: that is once per growth by half, it costs far less than the rebuild it serves (whose
// page faults an mmap'd array takes under the lock in any case), and allocating it before the lock, on a
// guess, made every put near the threshold, replacements included, allocate and free an array. The array
// replaced is freed after the lock.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "base/siphash.h"

namespace store {

class SlotArray {
 public:
  SlotArray() noexcept = default;
  ~SlotArray();
  SlotArray(SlotArray&& other) noexcept;
  SlotArray& operator=(SlotArray&& other) noexcept;
  SlotArray(const SlotArray&) = delete;
  SlotArray& operator=(const SlotArray&) = delete;

  // A zeroed array of `capacity` slots; the minimum capacity stands for the table's embedded array.
  // None when the allocation fails.
  static SlotArray allocate(std::uint32_t capacity) noexcept;
  // What an array of `capacity` slots is charged: 0 for the embedded minimum.
  static std::size_t charge(std::uint32_t capacity) noexcept;

  explicit operator bool() const noexcept { return capacity_ != 0; }
  std::uint32_t capacity() const noexcept { return capacity_; }

 private:
  friend class EntryTable;
  void reset() noexcept;
  std::uint64_t* slots_ = nullptr;  // null for the embedded array
  std::uint32_t capacity_ = 0;
};

class EntryTable {
 public:
  static constexpr std::uint32_t kMinCapacity = 16;
  static constexpr std::uint32_t kNotFound = UINT32_MAX;
  static constexpr std::uint32_t kMaxDistance = 255;

  EntryTable() noexcept;
  EntryTable(const EntryTable&) = delete;
  EntryTable& operator=(const EntryTable&) = delete;

  // The index of the entry with this hash and id, or kNotFound.
  std::uint32_t find(std::uint64_t hash, std::string_view id) const noexcept;
  char* entry_at(std::uint32_t index) const noexcept;
  // The entry at `index` (same id) now lives at `entry`.
  void set_entry(std::uint32_t index, char* entry) noexcept;
  // The entry with this hash that lived at `from` now lives at `to`.
  void repoint(std::uint64_t hash, const char* from, char* to) noexcept;
  // Whether an absent id with this hash can be inserted without a resize, and inserting it.
  bool can_insert(std::uint64_t hash) const noexcept;
  void insert(std::uint64_t hash, char* entry) noexcept;  // needs can_insert()
  void erase_at(std::uint32_t index) noexcept;
  // Calls f(entry) for every entry, in no order (under the lock).
  template <typename F>
  void for_each(F&& f) const {
    const std::uint32_t count = capacity();
    for (std::uint32_t i = 0; i < count; ++i) {
      if (slots_[i] != 0) f(entry_at(i));
    }
  }

  // Exact under the lock; a recent value without it.
  std::uint32_t size() const noexcept { return size_.load(std::memory_order_relaxed); }
  std::uint32_t capacity() const noexcept { return capacity_.load(std::memory_order_relaxed); }
  std::size_t charge() const noexcept { return SlotArray::charge(capacity()); }

  // The capacity a table of `capacity` slots should move to when it will hold `size` entries; 0 when
  // `capacity` is right.
  static std::uint32_t target_capacity(std::size_t size, std::uint32_t capacity) noexcept;
  // Entries a table of `capacity` slots accepts without growing: the 97% limit.
  static std::size_t max_size(std::uint32_t capacity) noexcept;

  // Under the lock: places every entry in `fresh` (rehashing its id with `key`), leaving the table as it
  // is; false when one cannot be placed. Then adopt() makes `fresh` the table's array and hands back the
  // old one to free after the lock.
  bool rebuild_into(SlotArray& fresh, const base::HashKey& key) noexcept;
  // Whether an absent id with this hash could be inserted into `fresh` once adopted.
  bool can_insert_into(const SlotArray& fresh, std::uint64_t hash) const noexcept;
  SlotArray adopt(SlotArray fresh) noexcept;

 private:
  struct View {
    std::uint64_t* slots;
    std::uint32_t capacity;
  };
  View view() const noexcept { return {slots_, capacity()}; }
  View view_of(const SlotArray& array) const noexcept;
  static bool fits(View v, std::uint64_t hash) noexcept;
  static void place(View v, std::uint64_t hash, char* entry) noexcept;

  std::uint64_t* slots_;
  SlotArray owned_;  // none while the embedded array is in use
  // Atomic only so that the store's early checks and counts may read them without the lock.
  std::atomic<std::uint32_t> capacity_{kMinCapacity};
  std::atomic<std::uint32_t> size_{0};
  std::uint64_t embedded_[kMinCapacity] = {};
};

}  // namespace store
