#include "store/bucket_store.h"

#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <utility>

#include "store/entry_table.h"

namespace store {
namespace {

// A cache line: shards sit side by side in one array, and a lock taken on one must not slow its neighbour.
constexpr std::size_t kCacheLineBytes = 64;
// shard_of() scales 32 bits of the hash.
constexpr std::size_t kMaxShards = std::size_t{1} << 16;

std::size_t saturating_add(std::size_t a, std::size_t b) noexcept { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

// The part of an entry's cost charged with the entry itself rather than with its value.
std::size_t entry_bytes(std::size_t id_size) noexcept {
  return saturating_add(id_size, BucketStore::kEntryOverheadBytes);
}

}  // namespace

struct alignas(kCacheLineBytes) BucketStore::Shard {
  mutable std::shared_mutex mutex;
  EntryTable table;
};

BucketStore::BucketStore(std::size_t max_bytes, const base::HashKey& key, std::size_t shard_count)
    : account_(max_bytes),
      key_(key),
      shard_count_(shard_count == 0 ? 1 : (shard_count > kMaxShards ? kMaxShards : shard_count)),
      shards_(std::make_unique<Shard[]>(shard_count_)) {}

BucketStore::~BucketStore() = default;

std::size_t BucketStore::entry_cost(std::size_t id_size, std::size_t value_size) noexcept {
  return saturating_add(entry_bytes(id_size), saturating_add(base::SharedBytes::header_bytes(), value_size));
}

BucketStore::PutResult BucketStore::put(std::string_view id, base::ByteBuilder&& value) noexcept {
  base::SharedBytes bytes = std::move(value).freeze();
  if (!bytes) return PutResult::kCapacityExceeded;  // not even the header could be allocated
  return insert(id, std::move(bytes));
}

BucketStore::PutResult BucketStore::put(std::string_view id, std::string_view value) noexcept {
  // Charged to no account yet: insert() reserves it on the store's.
  base::SharedBytes bytes = base::SharedBytes::copy_of(value);
  if (!bytes) return PutResult::kCapacityExceeded;
  return insert(id, std::move(bytes));
}

bool BucketStore::charge_replacement(base::SharedBytes& old_value, base::MemoryReservation& charge) noexcept {
  if (base::MemoryReservation* old_charge = old_value.sole_owner_charge()) {
    // Only the map holds the old value, and under the unique lock no reader can take it: the new value takes
    // over the old one's reservation, resized in one step, so no other put can take the bytes in between.
    if (!old_charge->resize(charge.bytes())) return false;
    charge = std::move(*old_charge);  // releases the new value's charge on its previous account first
    return true;
  }
  // A reader still holds the old value, which stays charged until it is done: reserve the new one whole.
  return charge.move_to(account_);
}

BucketStore::PutResult BucketStore::insert(std::string_view id, base::SharedBytes value) noexcept {
  const std::uint64_t id_hash = hash(id);
  Shard& shard = shards_[shard_of(id_hash)];
  // Everything this put allocates is allocated here (a resize's array too, unless another thread changed
  // the shard's size meanwhile), and everything it frees (a replaced entry and its value, a refused entry,
  // a replaced bucket array) is held in these until after the lock is released.
  EntryPtr fresh = make_entry(id_hash, id, std::move(value));
  if (!fresh) return PutResult::kCapacityExceeded;
  BucketArray spare = shard.table.prepare_resize(+1);
  BucketArray retired;
  EntryPtr previous;
  std::unique_lock lock(shard.mutex);

  // The value was frozen or copied by this call: it has no other owner.
  base::MemoryReservation& charge = *fresh->value.sole_owner_charge();
  if (Entry** link = shard.table.find(id_hash, id)) {
    if (!charge_replacement((*link)->value, charge)) return PutResult::kCapacityExceeded;
    previous = shard.table.replace(link, std::move(fresh));
    return PutResult::kReplaced;
  }
  // The entry's part and the value's part are reserved in one step: a concurrent put near the cap never
  // sees half of this one's reservation and is refused for it.
  const std::size_t value_bytes = charge.bytes();
  const std::size_t total = saturating_add(entry_bytes(id.size()), value_bytes);
  if (total == SIZE_MAX || !account_.try_reserve(total)) return PutResult::kCapacityExceeded;
  charge = base::MemoryReservation::adopt(account_, value_bytes);
  retired = shard.table.insert(std::move(fresh), std::move(spare));
  return PutResult::kCreated;
}

base::SharedBytes BucketStore::get(std::string_view id) const noexcept {
  const std::uint64_t id_hash = hash(id);
  const Shard& shard = shards_[shard_of(id_hash)];
  std::shared_lock lock(shard.mutex);
  Entry** link = shard.table.find(id_hash, id);
  return link == nullptr ? base::SharedBytes() : (*link)->value;
}

bool BucketStore::erase(std::string_view id) noexcept {
  const std::uint64_t id_hash = hash(id);
  Shard& shard = shards_[shard_of(id_hash)];
  BucketArray spare = shard.table.prepare_resize(-1);
  BucketArray retired;
  EntryPtr removed;
  {
    std::unique_lock lock(shard.mutex);
    Entry** link = shard.table.find(id_hash, id);
    if (link == nullptr) return false;
    removed = shard.table.remove(link, std::move(spare), retired);
  }
  // The entry's part is released once its block is freed, so the account never shows less than is
  // allocated; the value's charge goes with its last reference (now, unless a reader still holds it).
  const std::size_t released = entry_bytes(removed->id_size);
  removed.reset();
  account_.release(released);
  return true;
}

bool BucketStore::would_fit(std::string_view id, std::size_t value_size) const noexcept {
  const std::size_t value_charge = saturating_add(base::SharedBytes::header_bytes(), value_size);
  std::size_t needed = saturating_add(entry_bytes(id.size()), value_charge);
  // A new entry needs the most, so when it fits any put of that size does: the common case asks no lock.
  if (needed != SIZE_MAX && needed <= account_.available()) return true;
  {
    const std::uint64_t id_hash = hash(id);
    const Shard& shard = shards_[shard_of(id_hash)];
    std::shared_lock lock(shard.mutex);
    if (Entry** link = shard.table.find(id_hash, id)) {
      // Other readers may take or drop references meanwhile: a snapshot, as this whole check is.
      const base::SharedBytes& old_value = (*link)->value;
      if (old_value.use_count() == 1) {
        const std::size_t old_charge = old_value.charged_bytes();
        needed = value_charge > old_charge ? value_charge - old_charge : 0;
      } else {
        needed = value_charge;
      }
    }
  }
  return needed != SIZE_MAX && needed <= account_.available();
}

std::size_t BucketStore::bucket_count() const noexcept {
  std::size_t count = 0;
  for (std::size_t i = 0; i < shard_count_; ++i) count += shards_[i].table.size();
  return count;
}

}  // namespace store
