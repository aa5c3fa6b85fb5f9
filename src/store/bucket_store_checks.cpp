// BucketStore's early check and its diagnostics.
#include <mutex>
#include <shared_mutex>

#include "store/bucket_store.h"
#include "store/store_shard.h"

namespace store {
namespace {

std::size_t saturating_add(std::size_t a, std::size_t b) noexcept { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

}  // namespace

bool BucketStore::would_fit(std::string_view id, std::size_t value_size) const noexcept {
  if (id.empty() || id.size() > kMaxIdBytes) return false;
  const EntryShape shape = EntryShape::of(id.size(), entry::kNoType, 0, value_size);
  const std::size_t size_class = SizeClasses::of(shape.bytes());
  const std::size_t block =
      shape.large ? saturating_add(base::SharedBytes::largest_charge(value_size, value_files_), kLargeBlockOverheadBytes) : 0;
  const std::uint64_t id_hash = hash(id);
  const Shard& shard = shards_[shard_of(id_hash)];
  const std::uint32_t capacity = shard.table.capacity();
  const std::uint32_t target = EntryTable::target_capacity(shard.table.size() + std::size_t{1}, capacity);
  const std::size_t growth = target > capacity ? SlotArray::charge(target) - SlotArray::charge(capacity) : 0;
  // The most a put of this size can add: its class's largest page, the table's growth and the block. When
  // that fits, any put of that size does, and the common case asks no lock.
  const std::size_t worst =
      saturating_add(saturating_add(Slab::page_charge(size_class, Slab::max_capacity(size_class)), growth), block);
  const std::size_t available = account_.available();
  if (worst <= available) return true;

  // Near the cap: what put() would reserve now. Other threads may change it meanwhile: a snapshot, as this
  // whole check is.
  std::size_t gain = block;
  std::size_t loss = 0;
  std::shared_lock lock(shard.mutex);
  const std::uint32_t found = shard.table.find(id_hash, id);
  if (found == EntryTable::kNotFound) {
    gain = saturating_add(gain, shard.slab.page_needed(size_class));
    if (!shard.table.can_insert(id_hash)) gain = saturating_add(gain, growth);
  } else {
    const EntryRef old(shard.table.entry_at(found));
    const std::size_t old_class = SizeClasses::of(old.bytes());
    if (old_class != size_class) {
      gain = saturating_add(gain, shard.slab.page_needed(size_class));
      loss += shard.slab.page_freed_by_pop(old_class);
    }
    if (old.large()) {
      loss += kLargeBlockOverheadBytes;
      if (old.value_block().use_count() == 1) loss += old.value_block().charged_bytes();
    }
  }
  const std::size_t needed = gain > loss ? gain - loss : 0;
  return needed != SIZE_MAX && needed <= available;
}

std::size_t BucketStore::bucket_count() const noexcept {
  std::size_t count = 0;
  for (std::size_t i = 0; i < shard_count_; ++i) count += shards_[i].table.size();
  return count;
}

BucketStore::Usage BucketStore::usage() const noexcept {
  Usage usage;
  for (std::size_t i = 0; i < shard_count_; ++i) {
    const Shard& shard = shards_[i];
    std::shared_lock lock(shard.mutex);
    usage.page_bytes += shard.slab.charged_bytes();
    usage.pages += shard.slab.page_count();
    usage.table_bytes += shard.table.charge();
    usage.large_entries += shard.large_entries;
  }
  return usage;
}

}  // namespace store
