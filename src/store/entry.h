#pragma once
// The bytes of one stored entry. An entry is one slot of a size class (store/slab.h) and holds everything
// about its object, with no pointer to anything but a large value. What a look-up compares comes first, so
// that a probe of a short id reads one cache line:
//
//   inline value (the entry fits the largest class)    large value
//   0        4  packed word (below)                     0       4  packed word
//   4        n  id                                      4       4  padding
//   4+n      8  ETag: XXH64 of the value                8       8  base::SharedBytes: the value's block
//   12+n     7  modified: Unix seconds, 56 bits         16      n  id
//   19+n     t  [type: length byte and bytes]           16+n    8  ETag
//   19+n+t   v  value                                   24+n    7  modified
//                                                       31+n    t  [type]
//
// 19 bytes besides the id, the value and a kept type; 31 for a large entry. The packed word: bits 0-9 the
// id's length minus one (ids are 1..1024 bytes), bits 10-20 an inline value's length (at most 2028), bits
// 21-30 the content type's code, bit 31 set for a large value. The type code is 0 for none, 1..1022 for an
// interned type (store/content_types.h), 1023 for a type kept in the entry: only when every code is in use,
// so that a client sending ever new types costs itself, not the others, and is never refused for it.
//
// Nothing is aligned but the SharedBytes of a large entry (slots are 8-aligned, and so is offset 8); the
// other fields are read and written with memcpy. An inline entry is trivially relocatable, so the slab may
// move it to fill a hole; a large one moves its SharedBytes with it (relocate_entry()).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <string_view>
#include <utility>

#include "base/shared_bytes.h"
#include "store/object_meta.h"

namespace store {

inline constexpr std::size_t kMaxIdBytes = 1024;
inline constexpr std::size_t kMaxContentTypeBytes = 256;
// The largest size class: an entry that would be larger keeps its value in a block of its own.
inline constexpr std::size_t kMaxEntryBytes = 2048;
// Entries lie below this address: the table keeps tag bits above it (store/entry_table.h). User-space
// addresses on x86-64 and AArch64 Linux are below it unless a program asks mmap for higher ones.
inline constexpr std::uintptr_t kEntryAddressLimit = std::uintptr_t{1} << 48;

namespace entry {

inline constexpr std::size_t kHeaderBytes = 19;       // an inline entry's besides id, type and value
inline constexpr std::size_t kLargeHeaderBytes = 31;  // a large entry's besides id and type
inline constexpr std::size_t kIdOffset = 4;
inline constexpr std::size_t kValueRefOffset = 8;
inline constexpr std::size_t kLargeIdOffset = kValueRefOffset + 8;
inline constexpr std::size_t kMetaBytes = 15;  // ETag and modified, after the id
inline constexpr std::uint32_t kNoType = 0;
inline constexpr std::uint32_t kMaxInternedType = 1022;
inline constexpr std::uint32_t kInlineType = 1023;
// The range of the 56-bit modification time; put() clamps to it (about a billion years either side).
inline constexpr std::int64_t kMaxModified = (std::int64_t{1} << 55) - 1;
inline constexpr std::int64_t kMinModified = -(std::int64_t{1} << 55);

static_assert(sizeof(base::SharedBytes) == 8 && alignof(base::SharedBytes) <= 8);
static_assert(kHeaderBytes == 4 + kMetaBytes && kLargeHeaderBytes == kLargeIdOffset + kMetaBytes);

}  // namespace entry

inline constexpr std::size_t kMaxInlineValueBytes = kMaxEntryBytes - entry::kHeaderBytes - 1;

// What an entry will hold, to size its slot before it is written.
struct EntryShape {
  std::size_t id_size = 0;
  std::uint32_t type_code = entry::kNoType;
  std::size_t inline_type_size = 0;  // the type's length when type_code is kInlineType
  std::size_t value_size = 0;
  bool large = false;

  std::size_t type_bytes() const noexcept {
    return type_code == entry::kInlineType ? 1 + inline_type_size : 0;
  }
  std::size_t bytes() const noexcept {
    return (large ? entry::kLargeHeaderBytes : entry::kHeaderBytes + value_size) + id_size + type_bytes();
  }
  // The shape with the value inline when the whole entry fits the largest class, large otherwise.
  static EntryShape of(std::size_t id_size, std::uint32_t type_code, std::size_t inline_type_size,
                       std::size_t value_size) noexcept {
    EntryShape shape{id_size, type_code, inline_type_size, value_size, false};
    shape.large = shape.bytes() > kMaxEntryBytes;
    return shape;
  }
};

// A view of a written entry.
class EntryRef {
 public:
  explicit EntryRef(char* bytes) noexcept : p_(bytes) {}

  char* data() const noexcept { return p_; }
  std::size_t id_size() const noexcept { return (word() & 0x3FF) + 1; }
  std::uint32_t type_code() const noexcept { return (word() >> 21) & 0x3FF; }
  bool large() const noexcept { return (word() >> 31) != 0; }

  std::string_view id() const noexcept { return {p_ + id_offset(), id_size()}; }
  std::uint64_t etag() const noexcept {
    std::uint64_t etag;
    std::memcpy(&etag, p_ + meta_offset(), sizeof etag);
    return etag;
  }
  std::int64_t modified() const noexcept {
    const char* at = p_ + meta_offset() + 8;
    std::uint64_t raw = 0;
    for (int i = 6; i >= 0; --i) raw = raw << 8 | static_cast<unsigned char>(at[i]);
    return static_cast<std::int64_t>(raw << 8) >> 8;  // sign-extends the 56 bits
  }
  std::string_view inline_type() const noexcept {  // only when type_code() is kInlineType
    const char* at = p_ + type_offset();
    return {at + 1, static_cast<unsigned char>(*at)};
  }
  std::string_view inline_value() const noexcept {  // only when !large()
    return {p_ + type_offset() + type_bytes(), inline_value_size()};
  }
  base::SharedBytes& value_block() const noexcept {  // only when large()
    return *std::launder(reinterpret_cast<base::SharedBytes*>(p_ + entry::kValueRefOffset));
  }
  std::size_t value_size() const noexcept { return large() ? value_block().size() : inline_value_size(); }
  ObjectMeta meta() const noexcept { return {etag(), modified(), value_size()}; }
  // The bytes in use: what its size class was chosen by.
  std::size_t bytes() const noexcept {
    return (large() ? entry::kLargeHeaderBytes : entry::kHeaderBytes + inline_value_size()) + id_size() +
           type_bytes();
  }

 private:
  std::uint32_t word() const noexcept {
    std::uint32_t word;
    std::memcpy(&word, p_, sizeof word);
    return word;
  }
  std::size_t inline_value_size() const noexcept { return (word() >> 10) & 0x7FF; }
  std::size_t id_offset() const noexcept { return large() ? entry::kLargeIdOffset : entry::kIdOffset; }
  std::size_t meta_offset() const noexcept { return id_offset() + id_size(); }
  std::size_t type_offset() const noexcept { return meta_offset() + entry::kMetaBytes; }
  std::size_t type_bytes() const noexcept {
    if (type_code() != entry::kInlineType) return 0;
    return 1 + static_cast<unsigned char>(p_[type_offset()]);
  }

  char* p_;
};

// Writes an entry of `shape` into `slot` (at least shape.bytes() long). `value` is copied for an inline
// shape; `block` is moved in for a large one. `inline_type` is written when the shape keeps its type.
inline EntryRef write_entry(char* slot, const EntryShape& shape, std::string_view id, std::string_view inline_type,
                            std::string_view value, base::SharedBytes&& block, const ObjectMeta& meta) noexcept {
  const std::uint32_t word = static_cast<std::uint32_t>(shape.id_size - 1) |
                             (shape.large ? 0u : static_cast<std::uint32_t>(shape.value_size) << 10) |
                             (shape.type_code << 21) | (shape.large ? 1u << 31 : 0u);
  std::memcpy(slot, &word, 4);
  char* at = slot + entry::kIdOffset;
  if (shape.large) {
    std::memset(at, 0, entry::kValueRefOffset - entry::kIdOffset);
    new (slot + entry::kValueRefOffset) base::SharedBytes(std::move(block));
    at = slot + entry::kLargeIdOffset;
  }
  std::memcpy(at, id.data(), id.size());
  at += id.size();
  std::memcpy(at, &meta.etag, 8);
  const auto modified = static_cast<std::uint64_t>(meta.modified);
  for (int i = 0; i < 7; ++i) at[8 + i] = static_cast<char>(modified >> (8 * i));
  at += entry::kMetaBytes;
  if (shape.type_code == entry::kInlineType) {
    *at++ = static_cast<char>(inline_type.size());
    if (!inline_type.empty()) std::memcpy(at, inline_type.data(), inline_type.size());
    at += inline_type.size();
  }
  if (!shape.large && !value.empty()) std::memcpy(at, value.data(), value.size());
  return EntryRef(slot);
}

// Ends an entry's life: a large value's block reference is moved out (for the caller to drop after the lock).
inline base::SharedBytes retire_entry(EntryRef entry) noexcept {
  if (!entry.large()) return {};
  base::SharedBytes block = std::move(entry.value_block());
  entry.value_block().~SharedBytes();
  return block;
}

// Moves the entry at `from` to `to` (same class, distinct slots); `from` is dead storage afterwards.
inline void relocate_entry(char* to, char* from) noexcept {
  const EntryRef source(from);
  const std::size_t size = source.bytes();
  if (!source.large()) {
    std::memcpy(to, from, size);
    return;
  }
  std::memcpy(to, from, entry::kValueRefOffset);
  std::memcpy(to + entry::kLargeIdOffset, from + entry::kLargeIdOffset, size - entry::kLargeIdOffset);
  new (to + entry::kValueRefOffset) base::SharedBytes(std::move(source.value_block()));
  source.value_block().~SharedBytes();
}

}  // namespace store
