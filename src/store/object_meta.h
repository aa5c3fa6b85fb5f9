#pragma once
// ObjectMeta: what the store keeps about a stored object besides its bytes and content type.
#include <cstdint>

namespace store {

struct ObjectMeta {
  std::uint64_t etag = 0;     // XXH64 (base/xxhash64.h, seed 0) of the value's bytes, computed once at put
  std::int64_t modified = 0;  // Unix seconds given by the caller at put (clamped to 56 bits)
  std::uint64_t size = 0;     // the value's length

  friend bool operator==(const ObjectMeta&, const ObjectMeta&) = default;
};

}  // namespace store
