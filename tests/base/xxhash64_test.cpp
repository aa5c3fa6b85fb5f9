// XXH64 against the test vectors the xxHash specification's reference tool checks itself with: a
// pseudo-random buffer (byte i is the top byte of PRIME32 * PRIME64^i, modulo 2^64), hashed at lengths that
// take each path (empty, the byte tail, the 4-byte word, the 8-byte words, the 32-byte stripes), with seed 0
// and with seed PRIME32.
#include "base/xxhash64.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace base {
namespace {

constexpr std::uint64_t kPrime32 = 2654435761U;
constexpr std::uint64_t kPrime64 = 11400714785074694797ULL;

std::string sanity_buffer(std::size_t length) {
  std::string buffer(length, '\0');
  std::uint64_t generator = kPrime32;
  for (char& byte : buffer) {
    byte = static_cast<char>(generator >> 56);
    generator *= kPrime64;
  }
  return buffer;
}

struct Vector {
  std::size_t length;
  std::uint64_t seed;
  std::uint64_t expected;
};

TEST(XxHash64, MatchesTheSpecificationsTestVectors) {
  const std::string buffer = sanity_buffer(222);
  const Vector vectors[] = {
      {0, 0, 0xEF46DB3751D8E999ULL},   {0, kPrime32, 0xAC75FDA2929B17EFULL},
      {1, 0, 0xE934A84ADB052768ULL},   {1, kPrime32, 0x5014607643A9B4C3ULL},
      {4, 0, 0x9136A0DCA57457EEULL},   {14, 0, 0x8282DCC4994E35C8ULL},
      {14, kPrime32, 0xC3BD6BF63DEB6DF0ULL}, {222, 0, 0xB641AE8CB691C174ULL},
      {222, kPrime32, 0x20CB8AB7AE10C14AULL},
  };
  for (const Vector& v : vectors) {
    EXPECT_EQ(xxhash64(std::string_view(buffer).substr(0, v.length), v.seed), v.expected)
        << "length " << v.length << ", seed " << v.seed;
  }
}

TEST(XxHash64, DependsOnEveryByteAndOnlyOnTheBytes) {
  const std::string buffer = sanity_buffer(100);
  const std::uint64_t whole = xxhash64(buffer);
  // The same bytes from another address hash the same: no dependence on alignment.
  const std::string shifted = " " + buffer;
  EXPECT_EQ(xxhash64(std::string_view(shifted).substr(1)), whole);
  for (std::size_t i = 0; i < buffer.size(); ++i) {
    std::string changed = buffer;
    changed[i] = static_cast<char>(changed[i] ^ 1);
    EXPECT_NE(xxhash64(changed), whole) << "byte " << i;
  }
  EXPECT_NE(xxhash64(std::string_view(buffer).substr(0, 99)), whole);
}

}  // namespace
}  // namespace base
