#include "base/siphash.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "base/unique_fd.h"

namespace base {
namespace {

// The algorithm is defined on little-endian words; on a little-endian machine this is one load.
std::uint64_t load_le64(const char* p) noexcept {
  std::uint64_t word;
  std::memcpy(&word, p, sizeof word);
  if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
  return word;
}

struct State {
  std::uint64_t v0, v1, v2, v3;

  void round() noexcept {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  }
  template <int Rounds>
  void compress(std::uint64_t word) noexcept {
    v3 ^= word;
    for (int i = 0; i < Rounds; ++i) round();
    v0 ^= word;
  }
};

constexpr std::size_t kKeyBytes = 16;

HashKey key_from_bytes(const char (&bytes)[kKeyBytes]) noexcept {
  return HashKey{load_le64(bytes), load_le64(bytes + 8)};
}

}  // namespace

template <int C, int D>
std::uint64_t siphash(const HashKey& key, std::string_view data) noexcept {
  static_assert(C > 0 && D > 0);
  // The paper's initialisation constants (32 bytes of ASCII text, as four little-endian words).
  State s{key.k0 ^ 0x736f6d6570736575ULL, key.k1 ^ 0x646f72616e646f6dULL, key.k0 ^ 0x6c7967656e657261ULL,
          key.k1 ^ 0x7465646279746573ULL};
  const char* p = data.data();
  const std::size_t whole_words = data.size() / 8;
  for (std::size_t i = 0; i < whole_words; ++i, p += 8) s.compress<C>(load_le64(p));

  // The last word: the remaining 0-7 bytes, and the length modulo 256 in the top byte.
  std::uint64_t last = static_cast<std::uint64_t>(data.size()) << 56;
  const std::size_t tail = data.size() % 8;
  for (std::size_t i = 0; i < tail; ++i) {
    last |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  }
  s.compress<C>(last);

  s.v2 ^= 0xff;
  for (int i = 0; i < D; ++i) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

template std::uint64_t siphash<1, 3>(const HashKey&, std::string_view) noexcept;
template std::uint64_t siphash<2, 4>(const HashKey&, std::string_view) noexcept;

Result<HashKey> HashKey::from_file(const char* path) {
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) return Status::from_errno(std::string("open ").append(path), errno);
  char bytes[kKeyBytes];
  std::size_t filled = 0;
  while (filled < kKeyBytes) {
    const ssize_t n = ::read(fd.get(), bytes + filled, kKeyBytes - filled);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::from_errno(std::string("read ").append(path), errno);
    if (n == 0) return Status::error(std::string("read ").append(path).append(": fewer than 16 bytes"));
    filled += static_cast<std::size_t>(n);
  }
  return key_from_bytes(bytes);
}

Result<HashKey> HashKey::random() {
  char bytes[kKeyBytes];
  std::size_t filled = 0;
  while (filled < kKeyBytes) {
    // Blocks only until the kernel's pool is first initialised, early in boot.
    const ssize_t n = ::getrandom(bytes + filled, kKeyBytes - filled, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      // ENOSYS (a kernel before 3.17) or a seccomp filter that refuses the call: the device still works.
      const int getrandom_error = errno;
      Result<HashKey> fallback = from_file("/dev/urandom");
      if (fallback) return fallback;
      return Status::error(std::string("no random hash key: getrandom: ")
                               .append(std::strerror(getrandom_error))
                               .append("; ")
                               .append(fallback.status().message()),
                           getrandom_error);
    }
    filled += static_cast<std::size_t>(n);
  }
  return key_from_bytes(bytes);
}

}  // namespace base
