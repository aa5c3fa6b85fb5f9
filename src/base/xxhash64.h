#pragma once
// XXH64 (Yann Collet's xxHash, 64-bit variant): a fast non-cryptographic hash of a byte string, written from
// its published specification (doc/xxhash_spec.md in the xxHash repository) and checked against the
// specification's test vectors in tests/base. Unkeyed and predictable on purpose: the store uses it for a
// value's ETag, which must be the same for the same bytes in every process and after every restart, so it
// never indexes a table an attacker could flood (the store's tables use the keyed SipHash for that).
#include <cstdint>
#include <string_view>

namespace base {

std::uint64_t xxhash64(std::string_view data, std::uint64_t seed = 0) noexcept;

}  // namespace base
