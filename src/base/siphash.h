#pragma once
// SipHash (Aumasson and Bernstein, 2012): a keyed 64-bit hash of a byte string. Without the key an outside
// party cannot predict, or steer, which values collide, so a table hashed with it cannot be driven into one
// bucket by chosen input. siphash<C, D> is SipHash-C-D (C compression rounds per 8-byte word, D finalisation
// rounds); SipHash-2-4 is the paper's conservative choice, SipHash-1-3 the faster variant Rust's and
// CPython's hash tables use, which is what a table needs (resistance to chosen collisions, not a MAC).
//
// HashKey is the 128-bit key: HashKey::random() draws it from the kernel (getrandom(2), or /dev/urandom
// where getrandom is unavailable) once at start-up; tests pass fixed keys.
#include <cstdint>
#include <string_view>

#include "base/status.h"

namespace base {

struct HashKey {
  std::uint64_t k0 = 0;  // the key's bytes 0-7, read little-endian, as in the reference implementation
  std::uint64_t k1 = 0;  // bytes 8-15

  // 16 bytes from getrandom(2), falling back to /dev/urandom; an error when neither can supply them.
  static Result<HashKey> random();
  // 16 bytes read from the file at `path` (the fallback above, open to tests).
  static Result<HashKey> from_file(const char* path);

  friend bool operator==(const HashKey&, const HashKey&) = default;
};

template <int C, int D>
std::uint64_t siphash(const HashKey& key, std::string_view data) noexcept;

extern template std::uint64_t siphash<1, 3>(const HashKey&, std::string_view) noexcept;
extern template std::uint64_t siphash<2, 4>(const HashKey&, std::string_view) noexcept;

inline std::uint64_t siphash13(const HashKey& key, std::string_view data) noexcept { return siphash<1, 3>(key, data); }
inline std::uint64_t siphash24(const HashKey& key, std::string_view data) noexcept { return siphash<2, 4>(key, data); }

}  // namespace base
