#pragma once
// ContentTypes: the store's interned content types, so that an entry keeps a 10-bit code rather than its
// type's bytes. Thread-safe; shared by every shard.
//
// Each distinct type in use is one malloc'd block (a 16-byte header: reference count, length, code, keyed
// hash; then the bytes) charged to the store's account, and referenced by every entry that has the type:
// the last reference frees it and its code. At most kCapacity types live at once; when every code is in
// use acquire() answers kInlineType and the entry keeps its type's bytes itself, so a client inventing
// types makes only its own entries larger. Looking a type up takes a shared lock (an exclusive one to add
// or remove a type) and an atomic increment; the index is open addressing over keyed SipHash, so chosen
// type strings cannot pile into one probe run.
//
// view() needs no lock: a code's block cannot change while a reference to it is held, and whoever reads it
// (a get() under its shard's lock) holds the entry that holds the reference.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <shared_mutex>
#include <string_view>

#include "base/memory_account.h"
#include "base/siphash.h"
#include "store/entry.h"

namespace store {

class ContentTypes {
 public:
  static constexpr std::uint32_t kCapacity = entry::kMaxInternedType;

  ContentTypes(const base::HashKey& key, base::MemoryAccount& account) noexcept;
  ~ContentTypes();
  ContentTypes(const ContentTypes&) = delete;
  ContentTypes& operator=(const ContentTypes&) = delete;

  // Sets `code` to `type`'s code, holding one more reference to it: kNoType (and no reference) for an empty
  // type, kInlineType when every code is in use. False when a new type's charge or block is refused.
  [[nodiscard]] bool acquire(std::string_view type, std::uint32_t& code) noexcept;
  // Drops a reference acquire() gave (kNoType and kInlineType hold none).
  void release(std::uint32_t code) noexcept;
  // The type of an interned code, while a reference to it is held.
  std::string_view view(std::uint32_t code) const noexcept;

  // For tests and diagnostics.
  std::size_t count() const noexcept;                         // types interned now
  std::uint32_t references(std::uint32_t code) const noexcept;  // 0 for a free code
  static std::size_t charge(std::size_t type_size) noexcept;  // what one type's block is charged

 private:
  struct Type;
  static constexpr std::uint32_t kIndexSlots = 2048;  // a power of two, at least twice kCapacity

  std::uint32_t find(std::uint64_t hash, std::string_view type) const noexcept;  // 0 when absent
  void index_insert(std::uint32_t code) noexcept;
  void index_erase(std::uint32_t code) noexcept;

  const base::HashKey key_;
  base::MemoryAccount& account_;
  mutable std::shared_mutex mutex_;
  Type* types_[kCapacity + 1] = {};          // by code; [0] unused
  std::uint16_t index_[kIndexSlots] = {};    // codes, 0 for an empty slot
  std::uint16_t free_codes_[kCapacity] = {};  // a stack
  std::uint32_t free_count_ = 0;
};

}  // namespace store
