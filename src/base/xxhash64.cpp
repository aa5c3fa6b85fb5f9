#include "base/xxhash64.h"

#include <bit>
#include <cstring>

namespace base {
namespace {

constexpr std::uint64_t kPrime1 = 0x9E3779B185EBCA87ULL;
constexpr std::uint64_t kPrime2 = 0xC2B2AE3D27D4EB4FULL;
constexpr std::uint64_t kPrime3 = 0x165667B19E3779F9ULL;
constexpr std::uint64_t kPrime4 = 0x85EBCA77C2B2AE63ULL;
constexpr std::uint64_t kPrime5 = 0x27D4EB2F165667C5ULL;

// The specification reads the input as little-endian words.
std::uint64_t load64(const unsigned char* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}

std::uint32_t load32(const unsigned char* p) noexcept {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap32(v);
  return v;
}

std::uint64_t round(std::uint64_t accumulator, std::uint64_t lane) noexcept {
  accumulator += lane * kPrime2;
  accumulator = std::rotl(accumulator, 31);
  return accumulator * kPrime1;
}

std::uint64_t merge(std::uint64_t accumulator, std::uint64_t lane_accumulator) noexcept {
  accumulator ^= round(0, lane_accumulator);
  return accumulator * kPrime1 + kPrime4;
}

}  // namespace

std::uint64_t xxhash64(std::string_view data, std::uint64_t seed) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const std::size_t length = data.size();
  const unsigned char* const end = p + length;
  std::uint64_t accumulator;

  if (length >= 32) {
    // Four lanes over 32-byte stripes, then folded into one.
    std::uint64_t lane[4] = {seed + kPrime1 + kPrime2, seed + kPrime2, seed, seed - kPrime1};
    const unsigned char* const last_stripe = end - 32;
    do {
      for (int i = 0; i < 4; ++i) lane[i] = round(lane[i], load64(p + 8 * i));
      p += 32;
    } while (p <= last_stripe);
    accumulator = std::rotl(lane[0], 1) + std::rotl(lane[1], 7) + std::rotl(lane[2], 12) + std::rotl(lane[3], 18);
    for (const std::uint64_t value : lane) accumulator = merge(accumulator, value);
  } else {
    accumulator = seed + kPrime5;
  }
  accumulator += static_cast<std::uint64_t>(length);

  // The remaining 0..31 bytes: words of 8, then at most one of 4, then single bytes.
  for (; end - p >= 8; p += 8) {
    accumulator ^= round(0, load64(p));
    accumulator = std::rotl(accumulator, 27) * kPrime1 + kPrime4;
  }
  if (end - p >= 4) {
    accumulator ^= static_cast<std::uint64_t>(load32(p)) * kPrime1;
    accumulator = std::rotl(accumulator, 23) * kPrime2 + kPrime3;
    p += 4;
  }
  for (; p < end; ++p) {
    accumulator ^= static_cast<std::uint64_t>(*p) * kPrime5;
    accumulator = std::rotl(accumulator, 11) * kPrime1;
  }

  // Avalanche.
  accumulator ^= accumulator >> 33;
  accumulator *= kPrime2;
  accumulator ^= accumulator >> 29;
  accumulator *= kPrime3;
  accumulator ^= accumulator >> 32;
  return accumulator;
}

}  // namespace base
