#pragma once
// BucketStore: the in-memory map from bucket id to its object (bytes, content type, ETag, modification
// time), safe to use from every event-loop thread.
//
// Ids are hashed with SipHash-1-3 under a key drawn at start-up, so no client can choose ids that pile into
// one shard or one probe run. The hash's high bits pick one of `shard_count` shards, each behind its own
// shared_mutex (readers never block each other); inside a shard an EntryTable (open addressing, 8-byte
// tagged slots) points at entries packed by size class into a Slab's pages. An entry is one slot holding
// the object's id, metadata, content type code and, when it fits the largest class (2048 bytes), its value
// (store/entry.h has the layout). What one object costs, with a 17-byte id, a 100-byte value and an
// interned content type:
//
//   136    its slot: 4 (lengths, type code) + 17 id + 8 ETag + 7 modified + 100 value, exactly class 136
//     0.8  its share of its page's header and malloc chunk (16 + 8 bytes per 29 slots in a 3968-byte chunk)
//     0.3  its share of the partly filled last pages (one per class and shard; at 472,000 objects)
//   8.9-13.3  its share of its shard's table: one 8-byte slot at 60-90% load (11.7 at 472,000 objects)
//   ---
//   148.8 bytes charged at 472,000 objects, and nothing else: no malloc per entry, no pointer chain, no
//   stored hash, no reference count. Measured by bench/object_memory.sh: 151.6 bytes of RSS per object for
//   472,000 such objects over HTTP, against Redis 7.0's 204.3 for the same ids and values in the same run.
//
// Small values are copied out under the shard's shared lock into the caller's Lookup (a response copies a
// value that small into its output anyway, see http/response.h kShareBodiesFrom), so an inline entry needs
// no reference count and can be moved to keep its class dense. A larger value stays a base::SharedBytes
// block (a received body is frozen into one without a copy); get() hands out a reference in Lookup::owner,
// so a response is sent from the store's memory after the lock is gone, and a concurrent put() or erase()
// replaces the entry, never the bytes a reader holds. The ETag (XXH64, seed 0, so the same bytes get the
// same ETag in every process) is computed at put() before the lock: about 16 ns for 100 bytes, 100 ns a
// KiB. Allocation happens before a shard lock is taken (a page is predicted, and allocated under the lock
// only when the prediction was wrong; a table's resize, rare and O(entries) anyway, allocates its array
// under the lock) and freeing after it is released. Nothing throws: allocation failure answers
// kCapacityExceeded.
//
// Accounting: the store owns the MemoryAccount of its cap, and stored_bytes() is exactly what is charged to
// it, which is what the entries really take:
//   - every slab page, as the malloc chunk it is, from its allocation until it is freed (store/slab.h);
//   - every table array beyond each shard's embedded minimum (store/entry_table.h);
//   - for each large entry, its value block's SharedBytes charge (header and bytes) plus
//     kLargeBlockOverheadBytes for the block's malloc chunk header and rounding; the block's charge stays
//     while a reader still holds a replaced or deleted value, until the last reference drops;
//   - every interned content type's block (store/content_types.h).
// stored_bytes() never exceeds max_bytes(): a put() that would pass the cap leaves the store unchanged and
// answers kCapacityExceeded. Replacing a value nobody else holds needs room only for the difference;
// replacing one a reader still holds needs room for the whole new value, since both exist until it is done,
// and so does every replacement told to a journal (which may keep the old value until the change is
// durable).
// An empty store is charged nothing. Not counted: the fixed cost (the shards, each with its lock, embedded
// 16-slot table and 78 class heads: about 1.5 KiB a shard, 100 KiB at 64 shards, and the content type
// table's 14 KiB) and the page rounding of values large enough for malloc to mmap.
//
// Values handed out by get() (Lookup::owner) must be released before the store is destroyed.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "base/memory_account.h"
#include "base/shared_bytes.h"
#include "base/siphash.h"
#include "store/content_types.h"
#include "store/entry.h"
#include "store/journal.h"
#include "store/object_meta.h"

namespace store {

// What get() fills. A handler keeps one per event-loop thread and reuses it: its copy buffer (for a small
// value and the content type, about 2.2 KiB) is a fixed per-thread cost, never allocated. Move `owner` into
// the response rather than copying it: a Lookup left holding a large value keeps it, and its charge, alive
// until its next get().
class Lookup {
 public:
  ObjectMeta meta;
  std::string_view content_type;  // empty when the put had none; valid until the next get() into this Lookup
  std::string_view value;         // the value's bytes (empty when get() was asked for metadata only)
  base::SharedBytes owner;        // when set, `value` lies within it and may be sent zero-copy

  Lookup() noexcept {}
  Lookup(const Lookup&) = delete;
  Lookup& operator=(const Lookup&) = delete;

 private:
  friend class BucketStore;
  char copy_[kMaxContentTypeBytes + kMaxInlineValueBytes];
};

// Checked under the shard's exclusive lock, against the current object (null when the id is absent), so a
// conditional put/erase is atomic with its check (two PUTs with the same If-Match: exactly one wins).
class Condition {
 public:
  virtual bool allows(const ObjectMeta* current) const noexcept = 0;

 protected:
  ~Condition() = default;
};

// Sees each entry of one shard under the shard's shared lock (visit_shard()): readers go on meanwhile,
// writers to that shard wait, so visit() only copies what it keeps (or takes a reference to a large value's
// block) and returns; it must not call into the store. What it sees is valid only during the call.
class ShardVisitor {
 public:
  // False stops the visit.
  virtual bool visit(std::string_view id, const ObjectView& object) noexcept = 0;

 protected:
  ~ShardVisitor() = default;
};

// kJournalRefused: the journal given to the call refused the change (store/journal.h); nothing changed.
enum class PutResult { kCreated, kReplaced, kCapacityExceeded, kPreconditionFailed, kJournalRefused };
// meta: the stored object's when stored; on kPreconditionFailed the current object's (zero when absent).
struct PutOutcome {
  PutResult result;
  ObjectMeta meta;
};
enum class EraseResult { kErased, kNotFound, kPreconditionFailed, kJournalRefused };

class BucketStore {
 public:
  // Charged, per large entry, for its value block's malloc chunk header (8) and rounding (up to 15).
  static constexpr std::size_t kLargeBlockOverheadBytes = 24;

  BucketStore(std::size_t max_bytes, const base::HashKey& key, std::size_t shard_count = 64);
  ~BucketStore();
  BucketStore(const BucketStore&) = delete;
  // Values copied in by put(id, string_view) (recovery's path) that are large enough then live in memory
  // files from this allowance, as received bodies do (base/value_files.h). Before any other call.
  void keep_large_values_in(base::ValueFiles* files) noexcept { value_files_ = files; }
  BucketStore& operator=(const BucketStore&) = delete;

  // Stores the builder's bytes: a small value is copied into its entry (the builder is freed after the
  // lock), a large one is frozen into a SharedBytes block without a copy and its charge moves from the
  // builder's account (the budget of bodies in flight) to the store's. The builder is left empty either
  // way. `content_type` (at most kMaxContentTypeBytes) and `id` (1..kMaxIdBytes bytes) are validated by the
  // caller; others are refused as kCapacityExceeded. `modified` is clamped to 56 bits. A `condition` that
  // disallows the current object answers kPreconditionFailed and changes nothing.
  // With a `journal`, the change is told to it before it is made, and made only if it accepts.
  PutOutcome put(std::string_view id, base::ByteBuilder&& value, std::string_view content_type = {},
                 std::int64_t modified = 0, const Condition* condition = nullptr,
                 Journal* journal = nullptr) noexcept;
  // Stores a copy of `value`.
  PutOutcome put(std::string_view id, std::string_view value, std::string_view content_type = {},
                 std::int64_t modified = 0, const Condition* condition = nullptr,
                 Journal* journal = nullptr) noexcept;
  // Stores `value` itself, shared: a large one is not copied (a small one is, into its entry). For putting
  // back a value held elsewhere, such as one a failed write replaced.
  PutOutcome put_shared(std::string_view id, const base::SharedBytes& value, std::string_view content_type,
                        std::int64_t modified, const Condition* condition = nullptr) noexcept;
  // Fills `out` with the object's metadata, content type and (when `with_value`) value; false, with `out`
  // emptied, when the id is absent.
  bool get(std::string_view id, Lookup& out, bool with_value = true) const noexcept;
  // With no condition, erase of an absent id is kNotFound; with one, the condition decides (allows(nullptr)
  // false -> kPreconditionFailed).
  EraseResult erase(std::string_view id, const Condition* condition = nullptr, Journal* journal = nullptr) noexcept;

  // Whether a put of `value_size` bytes under `id` would fit now: a cheap early check used to refuse a body
  // before reading it. Counts what the put would add (a new page, a larger table, a large value's block;
  // for a replacement nobody else holds only the difference) but not a new content type; put() remains the
  // authority. Takes no lock while the cap is far.
  bool would_fit(std::string_view id, std::size_t value_size) const noexcept;

  // Calls visitor.visit() for every entry of shard `shard` (< shard_count()), in no order, under that
  // shard's shared lock, held for the whole visit: a consistent view of the shard, one shard at a time.
  // False when the visitor stopped it (or `shard` is out of range).
  bool visit_shard(std::size_t shard, ShardVisitor& visitor) const noexcept;

  std::size_t bucket_count() const noexcept;
  std::size_t stored_bytes() const noexcept { return account_.used(); }
  std::size_t max_bytes() const noexcept { return account_.limit(); }
  const base::MemoryAccount& account() const noexcept { return account_; }

  // The bytes an entry with an id of `id_size` bytes, a `value_size`-byte value and an interned or no
  // content type occupies by itself: its slot, plus for a large value its block's charge and overhead.
  // What it adds to stored_bytes() also includes its share of pages and of the table, which is why the
  // store charges those whole rather than per entry. SIZE_MAX for an invalid id length.
  static std::size_t entry_bytes(std::size_t id_size, std::size_t value_size) noexcept;

  // Where the charge is, for tests and diagnostics (each shard read under its shared lock, one at a time).
  struct Usage {
    std::size_t page_bytes = 0;   // slab pages
    std::size_t pages = 0;
    std::size_t table_bytes = 0;  // table arrays beyond the embedded minimum
    std::size_t large_entries = 0;
  };
  Usage usage() const noexcept;
  const ContentTypes& content_types() const noexcept { return types_; }

  // The keyed hash of an id and the shard it selects, for tests and diagnostics.
  std::uint64_t hash(std::string_view id) const noexcept { return base::siphash13(key_, id); }
  std::size_t shard_index(std::string_view id) const noexcept { return shard_of(hash(id)); }
  std::size_t shard_count() const noexcept { return shard_count_; }

 private:
  struct Shard;
  struct Incoming;
  struct Leftovers;
  bool prepare(std::string_view id, std::string_view value, std::string_view content_type, std::int64_t modified,
               Incoming& in) noexcept;
  PutOutcome put_prepared(Incoming& in, const Condition* condition, Journal* journal) noexcept;
  PutOutcome put_locked(Shard& shard, std::uint64_t id_hash, Incoming& in, const Condition* condition,
                        Journal* journal, Leftovers& left) noexcept;
  // What a journal is shown of a stored entry.
  ObjectView view_of(const EntryRef& entry) const noexcept;
  // Frees the slot at `hole` of `size_class`: the class's last entry moves into it.
  void vacate(Shard& shard, std::size_t size_class, char* hole, Leftovers& left) noexcept;
  std::size_t shard_of(std::uint64_t hash) const noexcept {
    // The high 32 bits scaled onto [0, shard_count): the low ones are left to the table.
    return static_cast<std::size_t>(((hash >> 32) * shard_count_) >> 32);
  }

  // Declared first so that it outlives the entries and types, whose charges are released into it.
  base::MemoryAccount account_;
  const base::HashKey key_;
  const std::size_t shard_count_;
  ContentTypes types_;
  std::unique_ptr<Shard[]> shards_;
  base::ValueFiles* value_files_ = nullptr;
};

}  // namespace store
