#include "store/bucket_store.h"

#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "base/xxhash64.h"
#include "store/entry_table.h"
#include "store/slab.h"
#include "store/store_shard.h"

namespace store {
namespace {

// shard_of() scales 32 bits of the hash.
constexpr std::size_t kMaxShards = std::size_t{1} << 16;

// A copy into a Lookup goes through a call to memcpy: GCC expands a variable-length copy into a buffer of
// known size inline as `rep movsq`, whose start-up alone costs more than copying a short value (5 of the
// 60 ns of a 16-byte get).
[[gnu::noinline]] void copy_out(char* to, std::string_view from) noexcept {
  if (!from.empty()) std::memcpy(to, from.data(), from.size());
}

std::int64_t clamp_modified(std::int64_t modified) noexcept {
  if (modified > entry::kMaxModified) return entry::kMaxModified;
  if (modified < entry::kMinModified) return entry::kMinModified;
  return modified;
}

}  // namespace

// A put's object, made ready before the lock.
struct BucketStore::Incoming {
  std::string_view id;
  std::string_view content_type;  // written into the entry when the shape keeps it
  std::string_view bytes;         // an inline value's bytes
  base::SharedBytes block;        // a large value
  EntryShape shape;
  ObjectMeta meta;
};

// What an operation hands back from under the lock, to be freed, dropped and released after it, in that
// order: so the account never shows less than is allocated.
struct BucketStore::Leftovers {
  PagePtr spare_page;
  PagePtr emptied_page;
  SlotArray spare_array;
  SlotArray retired_array;
  base::SharedBytes old_block;
  std::uint32_t type_to_release = entry::kNoType;
  std::size_t bytes_to_release = 0;

  void finish(base::MemoryAccount& account, ContentTypes& types) noexcept {
    spare_page.reset();
    emptied_page.reset();
    spare_array = SlotArray();
    retired_array = SlotArray();
    old_block = base::SharedBytes();
    if (bytes_to_release != 0) account.release(bytes_to_release);
    types.release(type_to_release);
  }
};

BucketStore::BucketStore(std::size_t max_bytes, const base::HashKey& key, std::size_t shard_count)
    : account_(max_bytes),
      key_(key),
      shard_count_(shard_count == 0 ? 1 : (shard_count > kMaxShards ? kMaxShards : shard_count)),
      types_(key, account_),
      shards_(std::make_unique<Shard[]>(shard_count_)) {}

BucketStore::~BucketStore() {
  // The large values' blocks release their charges into the account, which outlives them.
  for (std::size_t i = 0; i < shard_count_; ++i) {
    shards_[i].table.for_each([](char* entry) { (void)retire_entry(EntryRef(entry)); });
  }
}

std::size_t BucketStore::entry_bytes(std::size_t id_size, std::size_t value_size) noexcept {
  if (id_size == 0 || id_size > kMaxIdBytes) return SIZE_MAX;
  const EntryShape shape = EntryShape::of(id_size, entry::kNoType, 0, value_size);
  const std::size_t slot = SizeClasses::bytes(SizeClasses::of(shape.bytes()));
  if (!shape.large) return slot;
  const std::size_t block = base::SharedBytes::header_bytes() + kLargeBlockOverheadBytes;
  return value_size > SIZE_MAX - slot - block ? SIZE_MAX : slot + block + value_size;
}

bool BucketStore::prepare(std::string_view id, std::string_view value, std::string_view content_type,
                          std::int64_t modified, Incoming& in) noexcept {
  if (id.empty() || id.size() > kMaxIdBytes || content_type.size() > kMaxContentTypeBytes) return false;
  // Hashed once, here, outside any lock.
  in.meta = {base::xxhash64(value), clamp_modified(modified), value.size()};
  std::uint32_t code = entry::kNoType;
  if (!types_.acquire(content_type, code)) return false;
  in.id = id;
  in.content_type = content_type;
  in.shape = EntryShape::of(id.size(), code, code == entry::kInlineType ? content_type.size() : 0, value.size());
  return true;
}

PutOutcome BucketStore::put(std::string_view id, base::ByteBuilder&& value, std::string_view content_type,
                            std::int64_t modified, const Condition* condition, Journal* journal) noexcept {
  base::ByteBuilder body = std::move(value);  // freed when this returns, after the lock
  Incoming in;
  if (!prepare(id, body.view(), content_type, modified, in)) return {PutResult::kCapacityExceeded, {}};
  if (in.shape.large) {
    in.block = std::move(body).freeze();
    if (!in.block) {
      types_.release(in.shape.type_code);
      return {PutResult::kCapacityExceeded, {}};
    }
  } else {
    in.bytes = body.view();
  }
  return put_prepared(in, condition, journal);
}

PutOutcome BucketStore::put(std::string_view id, std::string_view value, std::string_view content_type,
                            std::int64_t modified, const Condition* condition, Journal* journal) noexcept {
  Incoming in;
  if (!prepare(id, value, content_type, modified, in)) return {PutResult::kCapacityExceeded, {}};
  if (in.shape.large) {
    // Charged to no account yet: store() reserves it on the store's.
    in.block = base::SharedBytes::copy_of(value, nullptr, value_files_);
    if (!in.block) {
      types_.release(in.shape.type_code);
      return {PutResult::kCapacityExceeded, {}};
    }
  } else {
    in.bytes = value;
  }
  return put_prepared(in, condition, journal);
}

PutOutcome BucketStore::put_shared(std::string_view id, const base::SharedBytes& value, std::string_view content_type,
                                   std::int64_t modified, const Condition* condition) noexcept {
  Incoming in;
  if (!prepare(id, value.view(), content_type, modified, in)) return {PutResult::kCapacityExceeded, {}};
  if (in.shape.large) {
    in.block = value;
  } else {
    in.bytes = value.view();
  }
  return put_prepared(in, condition, nullptr);
}

ObjectView BucketStore::view_of(const EntryRef& entry) const noexcept {
  ObjectView view;
  view.meta = entry.meta();
  const std::uint32_t code = entry.type_code();
  if (code == entry::kInlineType) {
    view.content_type = entry.inline_type();
  } else if (code != entry::kNoType) {
    view.content_type = types_.view(code);
  }
  if (entry.large()) {
    view.block = &entry.value_block();
    view.value = view.block->view();
  } else {
    view.value = entry.inline_value();
  }
  return view;
}

PutOutcome BucketStore::put_prepared(Incoming& in, const Condition* condition, Journal* journal) noexcept {
  const std::uint64_t id_hash = hash(in.id);
  Shard& shard = shards_[shard_of(id_hash)];
  Leftovers left;
  left.spare_page = shard.slab.prepare(SizeClasses::of(in.shape.bytes()));
  // Unless the entry is stored, the type reference this put took is dropped.
  left.type_to_release = in.shape.type_code;
  PutOutcome outcome;
  {
    std::unique_lock lock(shard.mutex);
    outcome = put_locked(shard, id_hash, in, condition, journal, left);
  }
  left.finish(account_, types_);
  return outcome;
}

PutOutcome BucketStore::put_locked(Shard& shard, std::uint64_t id_hash, Incoming& in, const Condition* condition,
                                   Journal* journal, Leftovers& left) noexcept {
  const std::uint32_t found = shard.table.find(id_hash, in.id);
  const bool exists = found != EntryTable::kNotFound;
  const EntryRef old(exists ? shard.table.entry_at(found) : nullptr);
  const ObjectMeta current = exists ? old.meta() : ObjectMeta{};
  if (condition != nullptr && !condition->allows(exists ? &current : nullptr)) {
    return {PutResult::kPreconditionFailed, current};
  }
  const PutOutcome refused{PutResult::kCapacityExceeded, {}};
  const std::size_t size_class = SizeClasses::of(in.shape.bytes());
  const std::size_t old_class = exists ? SizeClasses::of(old.bytes()) : 0;
  const bool in_place = exists && old_class == size_class;

  // A new id may need a larger table: built now, beside the current one, and adopted only if the put goes
  // ahead. Without it the table must still have room.
  bool grow = false;
  if (!exists) {
    const std::uint32_t capacity = shard.table.capacity();
    const std::uint32_t target = EntryTable::target_capacity(shard.table.size() + std::size_t{1}, capacity);
    if (target > capacity) {
      left.spare_array = SlotArray::allocate(target);
      grow = left.spare_array && shard.table.rebuild_into(left.spare_array, key_) &&
             shard.table.can_insert_into(left.spare_array, id_hash);
    }
    if (!grow && !shard.table.can_insert(id_hash)) return refused;
  }

  // The account's change, in one step: what this put adds, less what it gives back.
  std::size_t gain = in_place ? 0 : shard.slab.page_needed(size_class);
  std::size_t loss = exists && !in_place ? shard.slab.page_freed_by_pop(old_class) : 0;
  if (in.shape.large) gain += kLargeBlockOverheadBytes;
  if (exists && old.large()) loss += kLargeBlockOverheadBytes;
  // A large value was frozen or copied by this call: it has no other owner. An old one nobody else holds
  // (under the exclusive lock no reader can take it now) gives back its charge; one a reader holds keeps it.
  base::MemoryReservation* new_charge = in.shape.large ? in.block.sole_owner_charge() : nullptr;
  // A journal keeps a reference to the old block (store/journal.h): it is then not ours alone to uncharge.
  base::MemoryReservation* old_charge =
      exists && old.large() && journal == nullptr ? old.value_block().sole_owner_charge() : nullptr;
  if (new_charge != nullptr) gain += new_charge->bytes();
  const std::size_t old_value_bytes = old_charge != nullptr ? old_charge->disown() : 0;
  loss += old_value_bytes;
  const std::size_t growth_gain = grow ? SlotArray::charge(left.spare_array.capacity()) : 0;
  const std::size_t growth_loss = grow ? shard.table.charge() : 0;
  std::size_t reserved = 0;
  const auto reserve = [&](std::size_t add, std::size_t give) {
    if (add <= give) return true;
    if (!account_.try_reserve(add - give)) return false;
    reserved = add - give;
    return true;
  };
  if (!reserve(gain + growth_gain, loss + growth_loss)) {
    // The larger table is only wanted: without it the put may still fit.
    const bool fits = grow && shard.table.can_insert(id_hash) && reserve(gain, loss);
    if (!fits) {
      if (old_charge != nullptr) *old_charge = base::MemoryReservation::adopt(account_, old_value_bytes);
      return refused;
    }
    grow = false;
  }
  if (!in_place && !shard.slab.reserve_slot(size_class, left.spare_page)) {
    if (reserved != 0) account_.release(reserved);
    if (old_charge != nullptr) *old_charge = base::MemoryReservation::adopt(account_, old_value_bytes);
    return refused;
  }
  if (journal != nullptr) {
    const ObjectView next{in.meta, in.content_type, in.shape.large ? in.block.view() : in.bytes,
                          in.shape.large ? &in.block : nullptr};
    const ObjectView previous = exists ? view_of(old) : ObjectView{};
    if (!journal->record(Change{in.id, &next, exists ? &previous : nullptr})) {
      if (!in_place) {  // gives back the page reserve_slot() may have added
        shard.slab.push(size_class);
        shard.slab.pop(size_class, left.emptied_page);
      }
      if (reserved != 0) account_.release(reserved);
      if (old_charge != nullptr) *old_charge = base::MemoryReservation::adopt(account_, old_value_bytes);
      return {PutResult::kJournalRefused, current};
    }
  }
  gain += grow ? growth_gain : 0;
  loss += grow ? growth_loss : 0;
  left.bytes_to_release = loss > gain ? loss - gain : 0;

  // Committed: nothing below can fail.
  if (new_charge != nullptr) *new_charge = base::MemoryReservation::adopt(account_, new_charge->bytes());
  if (grow) left.retired_array = shard.table.adopt(std::move(left.spare_array));
  if (exists) {
    left.type_to_release = old.type_code();
    shard.large_entries -= old.large() ? 1 : 0;
    left.old_block = retire_entry(old);
  } else {
    left.type_to_release = entry::kNoType;
  }
  char* slot = in_place ? old.data() : shard.slab.push(size_class);
  write_entry(slot, in.shape, in.id, in.content_type, in.bytes, std::move(in.block), in.meta);
  shard.large_entries += in.shape.large ? 1 : 0;
  if (!exists) {
    shard.table.insert(id_hash, slot);
    return {PutResult::kCreated, in.meta};
  }
  if (!in_place) {
    shard.table.set_entry(found, slot);
    vacate(shard, old_class, old.data(), left);
  }
  return {PutResult::kReplaced, in.meta};
}

void BucketStore::vacate(Shard& shard, std::size_t size_class, char* hole, Leftovers& left) noexcept {
  char* last = shard.slab.last(size_class);
  if (last != hole) {
    relocate_entry(hole, last);
    shard.table.repoint(hash(EntryRef(hole).id()), last, hole);
  }
  shard.slab.pop(size_class, left.emptied_page);
}

bool BucketStore::get(std::string_view id, Lookup& out, bool with_value) const noexcept {
  // A reference dropped here, outside the lock, may free a value. Most lookups held none (a small value
  // is copied), and assigning an empty one costs a call.
  if (out.owner) out.owner = base::SharedBytes();
  out.meta = {};
  out.content_type = {};
  out.value = {};
  const std::uint64_t id_hash = hash(id);
  const Shard& shard = shards_[shard_of(id_hash)];
  std::shared_lock lock(shard.mutex);
  const std::uint32_t found = shard.table.find(id_hash, id);
  if (found == EntryTable::kNotFound) return false;
  const EntryRef entry(shard.table.entry_at(found));
  out.meta = entry.meta();
  const std::uint32_t code = entry.type_code();
  std::string_view type;
  if (code == entry::kInlineType) {
    type = entry.inline_type();
  } else if (code != entry::kNoType) {
    type = types_.view(code);
  }
  if (!type.empty()) {
    copy_out(out.copy_, type);
    out.content_type = {out.copy_, type.size()};
  }
  if (!with_value) return true;
  if (entry.large()) {
    out.owner = entry.value_block();
    out.value = out.owner.view();
    return true;
  }
  const std::string_view value = entry.inline_value();
  char* const to = out.copy_ + type.size();
  const std::size_t n = value.size();
  // A value of 8 to 16 bytes (a counter, a short token) is copied as two overlapping words in place, which
  // costs less than the call.
  if (n >= 8 && n <= 16) {
    std::uint64_t first;
    std::uint64_t last;
    std::memcpy(&first, value.data(), 8);
    std::memcpy(&last, value.data() + n - 8, 8);
    std::memcpy(to, &first, 8);
    std::memcpy(to + n - 8, &last, 8);
  } else {
    copy_out(to, value);
  }
  out.value = {to, n};
  return true;
}

bool BucketStore::visit_shard(std::size_t index, ShardVisitor& visitor) const noexcept {
  if (index >= shard_count_) return false;
  const Shard& shard = shards_[index];
  bool going = true;
  std::shared_lock lock(shard.mutex);
  shard.table.for_each([&](char* entry) {
    if (!going) return;
    const EntryRef ref(entry);
    going = visitor.visit(ref.id(), view_of(ref));
  });
  return going;
}

EraseResult BucketStore::erase(std::string_view id, const Condition* condition, Journal* journal) noexcept {
  const std::uint64_t id_hash = hash(id);
  Shard& shard = shards_[shard_of(id_hash)];
  Leftovers left;
  {
    std::unique_lock lock(shard.mutex);
    const std::uint32_t found = shard.table.find(id_hash, id);
    if (found == EntryTable::kNotFound) {
      const bool allowed = condition == nullptr || condition->allows(nullptr);
      return allowed ? EraseResult::kNotFound : EraseResult::kPreconditionFailed;
    }
    const EntryRef old(shard.table.entry_at(found));
    if (condition != nullptr) {
      const ObjectMeta current = old.meta();
      if (!condition->allows(&current)) return EraseResult::kPreconditionFailed;
    }
    if (journal != nullptr) {
      const ObjectView previous = view_of(old);
      if (!journal->record(Change{id, nullptr, &previous})) return EraseResult::kJournalRefused;
    }
    const std::size_t size_class = SizeClasses::of(old.bytes());
    std::size_t loss = shard.slab.page_freed_by_pop(size_class);
    if (old.large()) {
      loss += kLargeBlockOverheadBytes;
      --shard.large_entries;
    }
    left.type_to_release = old.type_code();
    left.old_block = retire_entry(old);  // its block's charge goes with its last reference
    shard.table.erase_at(found);
    vacate(shard, size_class, old.data(), left);
    // A sparse table shrinks, when a smaller array can be had (a shrink is only wanted).
    const std::uint32_t target = EntryTable::target_capacity(shard.table.size(), shard.table.capacity());
    if (target != 0 && target < shard.table.capacity()) {
      left.spare_array = SlotArray::allocate(target);
      if (left.spare_array && shard.table.rebuild_into(left.spare_array, key_)) {
        loss += shard.table.charge() - SlotArray::charge(target);
        left.retired_array = shard.table.adopt(std::move(left.spare_array));
      }
    }
    left.bytes_to_release = loss;
  }
  left.finish(account_, types_);
  return EraseResult::kErased;
}

}  // namespace store
