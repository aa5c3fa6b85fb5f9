#include "store/entry_table.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <utility>

#include "store/entry.h"
#include "store/slab.h"

namespace store {
namespace {

constexpr std::size_t kMapFromBytes = 64 * 1024;
constexpr std::size_t kSystemPageBytes = 4096;

constexpr std::uint64_t kPointerMask = (std::uint64_t{1} << 48) - 8;
constexpr std::uint64_t kTagMask = (std::uint64_t{0xFF} << 48) | 7;
constexpr int kDistanceShift = 56;
constexpr std::uint64_t kOneFurther = std::uint64_t{1} << kDistanceShift;
static_assert(kEntryAddressLimit == std::uint64_t{1} << 48);

std::uint64_t tag_bits(std::uint64_t hash) noexcept {
  const std::uint64_t tag = (hash >> 32) & 0x7FF;
  return (tag & 7) | ((tag >> 3) << 48);
}
std::uint32_t distance(std::uint64_t slot) noexcept { return static_cast<std::uint32_t>(slot >> kDistanceShift); }
char* pointer(std::uint64_t slot) noexcept { return reinterpret_cast<char*>(slot & kPointerMask); }
std::uint32_t home(std::uint64_t hash, std::uint32_t capacity) noexcept {
  return static_cast<std::uint32_t>(((hash & 0xFFFFFFFFu) * capacity) >> 32);
}
std::uint32_t next(std::uint32_t index, std::uint32_t capacity) noexcept {
  return index + 1 == capacity ? 0 : index + 1;
}

}  // namespace

// ---- SlotArray

SlotArray::~SlotArray() { reset(); }

SlotArray::SlotArray(SlotArray&& other) noexcept
    : slots_(std::exchange(other.slots_, nullptr)), capacity_(std::exchange(other.capacity_, 0)) {}

SlotArray& SlotArray::operator=(SlotArray&& other) noexcept {
  if (this != &other) {
    reset();
    slots_ = std::exchange(other.slots_, nullptr);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

void SlotArray::reset() noexcept {
  if (slots_ != nullptr) {
    const std::size_t bytes = std::size_t{capacity_} * sizeof(std::uint64_t);
    if (bytes >= kMapFromBytes) {
      munmap(slots_, bytes);
    } else {
      std::free(slots_);
    }
  }
  slots_ = nullptr;
  capacity_ = 0;
}

SlotArray SlotArray::allocate(std::uint32_t capacity) noexcept {
  SlotArray array;
  if (capacity < EntryTable::kMinCapacity) return array;
  if (capacity > EntryTable::kMinCapacity) {
    const std::size_t bytes = std::size_t{capacity} * sizeof(std::uint64_t);
    void* memory = nullptr;
    if (bytes >= kMapFromBytes) {
      memory = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (memory == MAP_FAILED) return array;
    } else {
      memory = std::calloc(capacity, sizeof(std::uint64_t));
      if (memory == nullptr) return array;
    }
    array.slots_ = static_cast<std::uint64_t*>(memory);
  }
  array.capacity_ = capacity;
  return array;
}

std::size_t SlotArray::charge(std::uint32_t capacity) noexcept {
  if (capacity <= EntryTable::kMinCapacity) return 0;
  const std::size_t bytes = std::size_t{capacity} * sizeof(std::uint64_t);
  if (bytes >= kMapFromBytes) return (bytes + kSystemPageBytes - 1) / kSystemPageBytes * kSystemPageBytes;
  return heap_chunk_bytes(bytes);
}

// ---- EntryTable

EntryTable::EntryTable() noexcept : slots_(embedded_) {}

std::uint32_t EntryTable::find(std::uint64_t hash, std::string_view id) const noexcept {
  const View v = view();
  const std::uint64_t tag = tag_bits(hash);
  std::uint32_t index = home(hash, v.capacity);
  for (std::uint32_t d = 0; d <= kMaxDistance; ++d, index = next(index, v.capacity)) {
    const std::uint64_t slot = v.slots[index];
    if (slot == 0 || distance(slot) < d) return kNotFound;
    if ((slot & kTagMask) == tag && EntryRef(pointer(slot)).id() == id) return index;
  }
  return kNotFound;
}

char* EntryTable::entry_at(std::uint32_t index) const noexcept { return pointer(slots_[index]); }

void EntryTable::set_entry(std::uint32_t index, char* entry) noexcept {
  slots_[index] = (slots_[index] & ~kPointerMask) | reinterpret_cast<std::uint64_t>(entry);
}

void EntryTable::repoint(std::uint64_t hash, const char* from, char* to) noexcept {
  const View v = view();
  std::uint32_t index = home(hash, v.capacity);
  for (std::uint32_t d = 0; d <= kMaxDistance && v.slots[index] != 0; ++d, index = next(index, v.capacity)) {
    if (pointer(v.slots[index]) == from) {
      set_entry(index, to);
      return;
    }
  }
}

bool EntryTable::fits(View v, std::uint64_t hash) noexcept {
  std::uint32_t index = home(hash, v.capacity);
  std::uint32_t d = 0;
  // Where the entry goes: the first slot that is empty or holds an entry nearer its home.
  for (;; ++d, index = next(index, v.capacity)) {
    if (d > kMaxDistance) return false;
    const std::uint64_t slot = v.slots[index];
    if (slot == 0 || distance(slot) < d) break;
  }
  // The rest of the run moves one slot on: none of it may pass the limit.
  for (std::uint32_t n = 0; n < v.capacity; ++n, index = next(index, v.capacity)) {
    const std::uint64_t slot = v.slots[index];
    if (slot == 0) return true;
    if (distance(slot) >= kMaxDistance) return false;
  }
  return false;  // no empty slot
}

void EntryTable::place(View v, std::uint64_t hash, char* entry) noexcept {
  std::uint32_t index = home(hash, v.capacity);
  std::uint64_t carried = reinterpret_cast<std::uint64_t>(entry) | tag_bits(hash);
  for (;; index = next(index, v.capacity), carried += kOneFurther) {
    const std::uint64_t slot = v.slots[index];
    if (slot == 0) {
      v.slots[index] = carried;
      return;
    }
    if (distance(slot) < distance(carried)) {
      // From here on the run shifts by one: the entry takes this slot, each resident the next.
      v.slots[index] = carried;
      carried = slot;
    }
  }
}

bool EntryTable::can_insert(std::uint64_t hash) const noexcept {
  return size() + std::size_t{1} <= max_size(capacity()) && fits(view(), hash);
}

void EntryTable::insert(std::uint64_t hash, char* entry) noexcept {
  place(view(), hash, entry);
  size_.store(size() + 1, std::memory_order_relaxed);
}

void EntryTable::erase_at(std::uint32_t index) noexcept {
  const View v = view();
  for (;;) {
    const std::uint32_t following = next(index, v.capacity);
    const std::uint64_t slot = v.slots[following];
    if (slot == 0 || distance(slot) == 0) break;
    v.slots[index] = slot - kOneFurther;
    index = following;
  }
  v.slots[index] = 0;
  size_.store(size() - 1, std::memory_order_relaxed);
}

std::uint32_t EntryTable::target_capacity(std::size_t size, std::uint32_t capacity) noexcept {
  if (size * 10 > std::size_t{capacity} * 9) {
    std::size_t target = std::size_t{capacity} + capacity / 2;
    const std::size_t needed = size * 10 / 9 + 1;
    if (target < needed) target = needed;
    return target > UINT32_MAX ? 0 : static_cast<std::uint32_t>(target);
  }
  if (capacity > kMinCapacity && size * 10 < std::size_t{capacity} * 3) {
    const std::size_t target = size * 5 / 3 + 1;
    return target < kMinCapacity ? kMinCapacity : static_cast<std::uint32_t>(target);
  }
  return 0;
}

std::size_t EntryTable::max_size(std::uint32_t capacity) noexcept { return capacity - capacity / 32 - 1; }

EntryTable::View EntryTable::view_of(const SlotArray& array) const noexcept {
  // The embedded array is free whenever another is in use, so a rebuild into it leaves the table intact.
  return {array.slots_ != nullptr ? array.slots_ : const_cast<std::uint64_t*>(embedded_), array.capacity_};
}

bool EntryTable::rebuild_into(SlotArray& fresh, const base::HashKey& key) noexcept {
  const View target = view_of(fresh);
  if (target.slots == slots_ || size() > max_size(target.capacity)) return false;
  if (fresh.slots_ == nullptr) std::memset(embedded_, 0, sizeof embedded_);
  const View source = view();
  for (std::uint32_t i = 0; i < source.capacity; ++i) {
    const std::uint64_t slot = source.slots[i];
    if (slot == 0) continue;
    char* entry = pointer(slot);
    const std::uint64_t hash = base::siphash13(key, EntryRef(entry).id());
    if (!fits(target, hash)) return false;
    place(target, hash, entry);
  }
  return true;
}

bool EntryTable::can_insert_into(const SlotArray& fresh, std::uint64_t hash) const noexcept {
  return size() + std::size_t{1} <= max_size(fresh.capacity_) && fits(view_of(fresh), hash);
}

SlotArray EntryTable::adopt(SlotArray fresh) noexcept {
  const std::uint32_t capacity = fresh.capacity_;
  SlotArray old = std::move(owned_);
  if (fresh.slots_ == nullptr) {
    slots_ = embedded_;
  } else {
    owned_ = std::move(fresh);
    slots_ = owned_.slots_;
  }
  capacity_.store(capacity, std::memory_order_relaxed);
  return old;
}

}  // namespace store
