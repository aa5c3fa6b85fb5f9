#include "store/content_types.h"

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>

#include "store/slab.h"

namespace store {

struct ContentTypes::Type {
  std::atomic<std::uint32_t> refs{1};
  std::uint16_t size = 0;
  std::uint16_t code = 0;
  std::uint64_t hash = 0;

  char* bytes() noexcept { return reinterpret_cast<char*>(this + 1); }
  std::string_view view() noexcept { return {bytes(), size}; }
};

namespace {
constexpr std::uint32_t kIndexMask = 2048 - 1;
}  // namespace

ContentTypes::ContentTypes(const base::HashKey& key, base::MemoryAccount& account) noexcept
    : key_(key), account_(account) {
  static_assert(sizeof(Type) == 16 && kIndexSlots >= 2 * kCapacity && kIndexMask + 1 == kIndexSlots);
  // The lowest codes are handed out first.
  for (std::uint32_t code = kCapacity; code >= 1; --code) {
    free_codes_[free_count_++] = static_cast<std::uint16_t>(code);
  }
}

ContentTypes::~ContentTypes() {
  for (Type* type : types_) {
    if (type == nullptr) continue;
    account_.release(charge(type->size));
    type->~Type();
    std::free(type);
  }
}

std::size_t ContentTypes::charge(std::size_t type_size) noexcept { return heap_chunk_bytes(sizeof(Type) + type_size); }

std::uint32_t ContentTypes::find(std::uint64_t hash, std::string_view type) const noexcept {
  for (std::uint32_t i = hash & kIndexMask;; i = (i + 1) & kIndexMask) {
    const std::uint32_t code = index_[i];
    if (code == 0) return 0;
    Type* candidate = types_[code];
    if (candidate->hash == hash && candidate->view() == type) return code;
  }
}

void ContentTypes::index_insert(std::uint32_t code) noexcept {
  std::uint32_t i = types_[code]->hash & kIndexMask;
  while (index_[i] != 0) i = (i + 1) & kIndexMask;
  index_[i] = static_cast<std::uint16_t>(code);
}

void ContentTypes::index_erase(std::uint32_t code) noexcept {
  std::uint32_t hole = types_[code]->hash & kIndexMask;
  while (index_[hole] != code) hole = (hole + 1) & kIndexMask;
  // Linear probing's deletion: move back each later member of the run whose home does not lie cyclically
  // in (hole, its slot], so every entry stays reachable from its home.
  for (std::uint32_t j = (hole + 1) & kIndexMask; index_[j] != 0; j = (j + 1) & kIndexMask) {
    const std::uint32_t home = types_[index_[j]]->hash & kIndexMask;
    const bool stays = hole < j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!stays) {
      index_[hole] = index_[j];
      hole = j;
    }
  }
  index_[hole] = 0;
}

bool ContentTypes::acquire(std::string_view type, std::uint32_t& code) noexcept {
  code = entry::kNoType;
  if (type.empty()) return true;
  if (type.size() > kMaxContentTypeBytes) return false;
  const std::uint64_t hash = base::siphash13(key_, type);
  {
    std::shared_lock lock(mutex_);
    if (const std::uint32_t found = find(hash, type)) {
      types_[found]->refs.fetch_add(1, std::memory_order_relaxed);
      code = found;
      return true;
    }
    if (free_count_ == 0) {
      code = entry::kInlineType;
      return true;
    }
  }
  // A new type: its block is charged and built before the exclusive lock.
  const std::size_t bytes = charge(type.size());
  if (!account_.try_reserve(bytes)) return false;
  void* block = std::malloc(sizeof(Type) + type.size());
  if (block == nullptr) {
    account_.release(bytes);
    return false;
  }
  auto* fresh = new (block) Type();
  fresh->size = static_cast<std::uint16_t>(type.size());
  fresh->hash = hash;
  std::memcpy(fresh->bytes(), type.data(), type.size());
  {
    std::unique_lock lock(mutex_);
    if (const std::uint32_t found = find(hash, type)) {  // added by another thread meanwhile
      types_[found]->refs.fetch_add(1, std::memory_order_relaxed);
      code = found;
    } else if (free_count_ == 0) {
      code = entry::kInlineType;
    } else {
      code = free_codes_[--free_count_];
      fresh->code = static_cast<std::uint16_t>(code);
      types_[code] = fresh;
      index_insert(code);
      return true;
    }
  }
  fresh->~Type();
  std::free(block);
  account_.release(bytes);
  return true;
}

void ContentTypes::release(std::uint32_t code) noexcept {
  if (code == entry::kNoType || code == entry::kInlineType) return;
  Type* type = types_[code];
  if (type->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  {
    std::unique_lock lock(mutex_);
    // Another thread may have taken and dropped a reference meanwhile, and removed the type itself (and
    // even reused the code): only a block that is still this code's, with no reference, is removed.
    type = types_[code];
    if (type == nullptr || type->refs.load(std::memory_order_acquire) != 0) return;
    index_erase(code);
    types_[code] = nullptr;
    free_codes_[free_count_++] = static_cast<std::uint16_t>(code);
  }
  account_.release(charge(type->size));
  type->~Type();
  std::free(type);
}

std::string_view ContentTypes::view(std::uint32_t code) const noexcept { return types_[code]->view(); }

std::size_t ContentTypes::count() const noexcept {
  std::shared_lock lock(mutex_);
  return kCapacity - free_count_;
}

std::uint32_t ContentTypes::references(std::uint32_t code) const noexcept {
  std::shared_lock lock(mutex_);
  const Type* type = code >= 1 && code <= kCapacity ? types_[code] : nullptr;
  return type == nullptr ? 0 : type->refs.load(std::memory_order_relaxed);
}

}  // namespace store
