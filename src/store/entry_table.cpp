#include "store/entry_table.h"

#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace store {

void EntryDeleter::operator()(Entry* entry) const noexcept {
  entry->~Entry();  // drops the value's reference
  std::free(entry);
}

EntryPtr make_entry(std::uint64_t hash, std::string_view id, base::SharedBytes value) noexcept {
  void* block = std::malloc(sizeof(Entry) + id.size());
  if (block == nullptr) return EntryPtr();
  auto* entry = new (block) Entry();
  entry->hash = hash;
  entry->value = std::move(value);
  entry->id_size = id.size();
  if (!id.empty()) std::memcpy(static_cast<char*>(block) + sizeof(Entry), id.data(), id.size());
  return EntryPtr(entry);
}

BucketArray BucketArray::allocate(std::size_t count) noexcept {
  BucketArray array;
  array.heads_.reset(new (std::nothrow) Entry* [count] {});
  if (array.heads_) array.count_ = count;
  return array;
}

EntryTable::EntryTable() : heads_(std::make_unique<Entry*[]>(kMinBuckets)), count_(kMinBuckets) {}

EntryTable::~EntryTable() {
  const std::size_t count = bucket_count();
  for (std::size_t i = 0; i < count; ++i) {
    for (Entry* entry = heads_[i]; entry != nullptr;) {
      Entry* next = entry->next;
      EntryDeleter()(entry);
      entry = next;
    }
  }
}

Entry** EntryTable::find(std::uint64_t hash, std::string_view id) const noexcept {
  for (Entry** link = &heads_[hash & mask()]; *link != nullptr; link = &(*link)->next) {
    if ((*link)->hash == hash && (*link)->id() == id) return link;
  }
  return nullptr;
}

std::size_t EntryTable::resize_target(std::size_t size, std::size_t count) noexcept {
  if (size > count) {
    std::size_t target = count < kMinBuckets ? kMinBuckets : count;
    while (target < size) target *= 2;
    return target;
  }
  // Halving leaves the array at least half empty, so an insert right after cannot grow it back.
  if (count > kMinBuckets && size < count / 4) return count / 2;
  return 0;
}

BucketArray EntryTable::prepare_resize(int delta) const noexcept {
  const std::size_t current = size();
  if (delta < 0 && current == 0) return BucketArray();
  const std::size_t after = delta < 0 ? current - 1 : current + 1;
  const std::size_t target = resize_target(after, bucket_count());
  return target == 0 ? BucketArray() : BucketArray::allocate(target);
}

BucketArray EntryTable::resize_if_needed(std::size_t size, BucketArray spare) noexcept {
  const std::size_t target = resize_target(size, bucket_count());
  if (target == 0) return spare;  // an unneeded spare is freed after the lock like a retired array
  if (spare.count() != target) spare = BucketArray::allocate(target);
  if (!spare) return BucketArray();
  const std::size_t old_count = bucket_count();
  const std::size_t new_mask = target - 1;
  for (std::size_t i = 0; i < old_count; ++i) {
    for (Entry* entry = heads_[i]; entry != nullptr;) {
      Entry* next = entry->next;
      Entry*& head = spare.heads_[entry->hash & new_mask];
      entry->next = head;
      head = entry;
      entry = next;
    }
  }
  std::swap(heads_, spare.heads_);
  spare.count_ = old_count;
  count_.store(target, std::memory_order_relaxed);
  return spare;
}

BucketArray EntryTable::insert(EntryPtr entry, BucketArray spare) noexcept {
  const std::size_t new_size = size() + 1;
  BucketArray retired = resize_if_needed(new_size, std::move(spare));
  Entry*& head = heads_[entry->hash & mask()];
  entry->next = head;
  head = entry.release();
  size_.store(new_size, std::memory_order_relaxed);
  return retired;
}

EntryPtr EntryTable::replace(Entry** link, EntryPtr entry) noexcept {
  Entry* old = *link;
  entry->next = old->next;
  old->next = nullptr;
  *link = entry.release();
  return EntryPtr(old);
}

EntryPtr EntryTable::remove(Entry** link, BucketArray spare, BucketArray& retired) noexcept {
  Entry* old = *link;
  *link = old->next;
  old->next = nullptr;
  const std::size_t new_size = size() - 1;
  size_.store(new_size, std::memory_order_relaxed);
  retired = resize_if_needed(new_size, std::move(spare));
  return EntryPtr(old);
}

}  // namespace store
