#pragma once
// A model of what BucketStore charges, written from the definition in its header: pages of each class of
// each shard as a dense array needs them, a table whose capacity follows the growth and shrink rules, a
// large value's block and overhead, one block per interned content type. It predicts each put's outcome
// (against the room left under the cap) and the store's charge after it, so a test can check the store
// against it after every operation. Single-threaded.
#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "store/bucket_store.h"
#include "store/content_types.h"
#include "store/entry_table.h"
#include "store/slab.h"

namespace store {

class StoreModel {
 public:
  explicit StoreModel(const BucketStore& store)
      : store_(store),
        capacity_(store.shard_count(), EntryTable::kMinCapacity),
        size_(store.shard_count(), 0),
        counts_(store.shard_count() * SizeClasses::kCount, 0) {}

  struct Object {
    std::size_t value_size = 0;
    std::string type;
    std::size_t size_class = 0;
    bool large = false;
  };

  // What pages holding `n` slots of `size_class` are charged.
  static std::size_t pages_charge(std::size_t size_class, std::size_t n) {
    std::size_t total = 0;
    for (std::size_t capacity = Slab::first_capacity(size_class); n > 0;
         capacity = Slab::next_capacity(size_class, capacity)) {
      total += Slab::page_charge(size_class, capacity);
      n -= n < capacity ? n : capacity;
    }
    return total;
  }
  static std::size_t block_charge(std::size_t value_size) { return base::SharedBytes::header_bytes() + value_size; }

  // The predicted result of put(id, value of `value_size`, type) with `available` bytes left under the cap,
  // when a reader holds the current value (`held`) or not; applied to the model unless refused.
  PutResult put(const std::string& id, std::size_t value_size, const std::string& type, bool held,
                std::size_t available, bool apply = true) {
    const std::size_t shard = store_.shard_index(id);
    const Object object = shape(id, value_size, type);
    const auto old = objects_.find(id);
    const bool exists = old != objects_.end();
    const std::size_t type_charge = !type.empty() && types_[type] == 0 ? ContentTypes::charge(type.size()) : 0;
    if (type_charge > available) return PutResult::kCapacityExceeded;
    available -= type_charge;

    std::size_t gain = object.large ? BucketStore::kLargeBlockOverheadBytes + block_charge(value_size) : 0;
    std::size_t loss = 0;
    const bool same_class = exists && old->second.size_class == object.size_class;
    if (!same_class) gain += page_step(shard, object.size_class, +1);
    if (exists && !same_class) loss += page_step(shard, old->second.size_class, -1);
    if (exists && old->second.large) {
      loss += BucketStore::kLargeBlockOverheadBytes + (held ? 0 : block_charge(old->second.value_size));
    }
    std::uint32_t grown = capacity_[shard];
    if (!exists) {
      const std::uint32_t target = EntryTable::target_capacity(size_[shard] + 1, capacity_[shard]);
      const std::size_t growth = target > capacity_[shard] ? SlotArray::charge(target) - SlotArray::charge(grown) : 0;
      if (target > capacity_[shard] && fits(gain + growth, loss, available)) {
        grown = target;
      } else if (size_[shard] + 1 > EntryTable::max_size(capacity_[shard]) || !fits(gain, loss, available)) {
        return PutResult::kCapacityExceeded;
      }
    } else if (!fits(gain, loss, available)) {
      return PutResult::kCapacityExceeded;
    }
    if (!apply) return exists ? PutResult::kReplaced : PutResult::kCreated;

    if (exists) {
      remove_object(shard, old->second);
    } else {
      capacity_[shard] = grown;
      ++size_[shard];
    }
    ++counts_[shard * SizeClasses::kCount + object.size_class];
    if (!type.empty()) ++types_[type];
    objects_[id] = object;
    return exists ? PutResult::kReplaced : PutResult::kCreated;
  }

  bool erase(const std::string& id) {
    const auto old = objects_.find(id);
    if (old == objects_.end()) return false;
    const std::size_t shard = store_.shard_index(id);
    remove_object(shard, old->second);
    objects_.erase(old);
    --size_[shard];
    const std::uint32_t target = EntryTable::target_capacity(size_[shard], capacity_[shard]);
    if (target != 0 && target < capacity_[shard]) capacity_[shard] = target;
    return true;
  }

  // The charge of everything but the stored large values' blocks (which a test counts from the blocks, to
  // count a held one once).
  std::size_t structure_charge() const {
    std::size_t total = page_charge();
    for (const std::uint32_t capacity : capacity_) total += SlotArray::charge(capacity);
    for (const auto& [id, object] : objects_) total += object.large ? BucketStore::kLargeBlockOverheadBytes : 0;
    for (const auto& [type, count] : types_) total += count > 0 ? ContentTypes::charge(type.size()) : 0;
    return total;
  }
  std::size_t page_charge() const {
    std::size_t total = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) total += pages_charge(i % SizeClasses::kCount, counts_[i]);
    return total;
  }
  std::size_t table_charge() const {
    std::size_t total = 0;
    for (const std::uint32_t capacity : capacity_) total += SlotArray::charge(capacity);
    return total;
  }
  const std::map<std::string, Object>& objects() const { return objects_; }

  static Object shape(const std::string& id, std::size_t value_size, const std::string& type) {
    const EntryShape s = EntryShape::of(id.size(), type.empty() ? entry::kNoType : 1, 0, value_size);
    return {value_size, type, SizeClasses::of(s.bytes()), s.large};
  }

 private:
  static bool fits(std::size_t gain, std::size_t loss, std::size_t available) {
    return gain <= loss || gain - loss <= available;
  }
  // The change in page charge when the class's count moves by `delta` (+1 or -1).
  std::size_t page_step(std::size_t shard, std::size_t size_class, int delta) const {
    const std::size_t n = counts_[shard * SizeClasses::kCount + size_class];
    return delta > 0 ? pages_charge(size_class, n + 1) - pages_charge(size_class, n)
                     : pages_charge(size_class, n) - pages_charge(size_class, n - 1);
  }
  void remove_object(std::size_t shard, const Object& object) {
    --counts_[shard * SizeClasses::kCount + object.size_class];
    if (!object.type.empty()) --types_[object.type];
  }

  const BucketStore& store_;
  std::vector<std::uint32_t> capacity_;
  std::vector<std::size_t> size_;
  std::vector<std::size_t> counts_;
  std::map<std::string, Object> objects_;
  std::map<std::string, std::size_t> types_;
};

}  // namespace store
