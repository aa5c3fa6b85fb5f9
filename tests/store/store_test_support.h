#pragma once
// Shared by the store's tests: a fixed key, the conditions a handler would build from If-Match and
// If-None-Match, and values whose bytes depend on their position (so that a torn or shifted copy shows).
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/siphash.h"
#include "store/bucket_store.h"

namespace store {

inline constexpr base::HashKey kTestKey{0x0123456789abcdefULL, 0xfedcba9876543210ULL};

// If-Match: the object exists with this ETag.
class IfMatch final : public Condition {
 public:
  explicit IfMatch(std::uint64_t etag) noexcept : etag_(etag) {}
  bool allows(const ObjectMeta* current) const noexcept override {
    return current != nullptr && current->etag == etag_;
  }

 private:
  std::uint64_t etag_;
};

// If-None-Match: *: the object does not exist.
class IfAbsent final : public Condition {
 public:
  bool allows(const ObjectMeta* current) const noexcept override { return current == nullptr; }
};

inline std::string test_value(std::size_t size, std::size_t seed) {
  std::string value(size, '\0');
  for (std::size_t i = 0; i < size; ++i) value[i] = static_cast<char>((i * 131 + seed * 7 + (i >> 8)) & 0xFF);
  return value;
}

}  // namespace store
