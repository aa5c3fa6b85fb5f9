#include "base/crc32c.h"

#include <array>
#include <bit>
#include <cstddef>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <nmmintrin.h>
#endif

namespace base {
namespace {

constexpr std::uint32_t kPolynomial = 0x82F63B78u;  // reflected

using Table = std::array<std::uint32_t, 256>;

// Slicing-by-8 (Intel, Kounavis and Berry 2005): tables[k][b] is the CRC register after byte b followed by
// k zero bytes, so eight input bytes are folded with eight independent lookups.
constexpr std::array<Table, 8> make_slicing_tables() {
  std::array<Table, 8> tables{};
  for (std::uint32_t byte = 0; byte < 256; ++byte) {
    std::uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) != 0 ? kPolynomial : 0u);
    tables[0][byte] = crc;
  }
  for (std::size_t k = 1; k < 8; ++k) {
    for (std::size_t byte = 0; byte < 256; ++byte) {
      const std::uint32_t previous = tables[k - 1][byte];
      tables[k][byte] = (previous >> 8) ^ tables[0][previous & 0xffu];
    }
  }
  return tables;
}

constexpr std::array<Table, 8> kSlicing = make_slicing_tables();

std::uint64_t load_le64(const unsigned char* p) noexcept {
  std::uint64_t word;
  std::memcpy(&word, p, sizeof word);
  if constexpr (std::endian::native == std::endian::big) word = __builtin_bswap64(word);
  return word;
}

}  // namespace

std::uint32_t crc32c_software(std::uint32_t crc, std::string_view bytes) noexcept {
  const auto* next = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t left = bytes.size();
  std::uint32_t state = ~crc;
  while (left > 0 && (reinterpret_cast<std::uintptr_t>(next) & 7u) != 0) {
    state = kSlicing[0][(state ^ *next++) & 0xffu] ^ (state >> 8);
    --left;
  }
  for (; left >= 8; left -= 8, next += 8) {
    const std::uint64_t word = load_le64(next) ^ state;
    state = kSlicing[7][word & 0xffu] ^ kSlicing[6][(word >> 8) & 0xffu] ^ kSlicing[5][(word >> 16) & 0xffu] ^
            kSlicing[4][(word >> 24) & 0xffu] ^ kSlicing[3][(word >> 32) & 0xffu] ^
            kSlicing[2][(word >> 40) & 0xffu] ^ kSlicing[1][(word >> 48) & 0xffu] ^ kSlicing[0][word >> 56];
  }
  while (left-- > 0) state = kSlicing[0][(state ^ *next++) & 0xffu] ^ (state >> 8);
  return ~state;
}

#if defined(__x86_64__)
namespace {

// The `crc32` instruction has a latency of three cycles and a throughput of one per cycle, so one chain of
// them runs at a third of the possible speed. Long buffers are therefore cut into three adjacent blocks
// whose CRCs run interleaved, each from a zero register, and are then joined: by linearity the register
// after A then B is Z(register after A) ^ (register after B from zero), where Z feeds |B| zero bytes
// through the register. Z is a 32x32 matrix over GF(2), applied here with four byte-indexed tables (the
// scheme of Mark Adler's crc32c.c).
constexpr std::size_t kLongBlock = 8192;
constexpr std::size_t kShortBlock = 256;

struct Gf2Operator {
  std::uint32_t column[32];  // the image of each register bit
};

constexpr std::uint32_t apply(const Gf2Operator& op, std::uint32_t vector) {
  std::uint32_t sum = 0;
  for (int bit = 0; vector != 0; ++bit, vector >>= 1) {
    if ((vector & 1u) != 0) sum ^= op.column[bit];
  }
  return sum;
}

constexpr Gf2Operator compose(const Gf2Operator& outer, const Gf2Operator& inner) {
  Gf2Operator result{};
  for (int bit = 0; bit < 32; ++bit) result.column[bit] = apply(outer, inner.column[bit]);
  return result;
}

// The tables of Z for `bytes` zero bytes, a power of two: one zero bit, squared up to a byte, then squared
// log2(bytes) more times.
constexpr std::array<Table, 4> make_shift_tables(std::size_t bytes) {
  Gf2Operator op{};
  op.column[0] = kPolynomial;
  for (int bit = 1; bit < 32; ++bit) op.column[bit] = 1u << (bit - 1);
  for (int square = 0; square < 3; ++square) op = compose(op, op);
  for (std::size_t n = bytes; n > 1; n >>= 1) op = compose(op, op);
  std::array<Table, 4> tables{};
  for (std::uint32_t byte = 0; byte < 256; ++byte) {
    for (int k = 0; k < 4; ++k) tables[static_cast<std::size_t>(k)][byte] = apply(op, byte << (8 * k));
  }
  return tables;
}

constexpr std::array<Table, 4> kShiftLong = make_shift_tables(kLongBlock);
constexpr std::array<Table, 4> kShiftShort = make_shift_tables(kShortBlock);

std::uint64_t shift(const std::array<Table, 4>& tables, std::uint64_t crc) noexcept {
  return tables[0][crc & 0xffu] ^ tables[1][(crc >> 8) & 0xffu] ^ tables[2][(crc >> 16) & 0xffu] ^
         tables[3][(crc >> 24) & 0xffu];
}

// Three interleaved chains over three adjacent blocks of `block` bytes, joined into crc.
__attribute__((target("sse4.2"))) inline std::uint64_t three_blocks(std::uint64_t crc, const unsigned char* next,
                                                                     std::size_t block,
                                                                     const std::array<Table, 4>& tables) noexcept {
  std::uint64_t crc1 = 0;
  std::uint64_t crc2 = 0;
  const unsigned char* const end = next + block;
  for (; next < end; next += 8) {
    crc = _mm_crc32_u64(crc, load_le64(next));
    crc1 = _mm_crc32_u64(crc1, load_le64(next + block));
    crc2 = _mm_crc32_u64(crc2, load_le64(next + 2 * block));
  }
  crc = shift(tables, crc) ^ crc1;
  return shift(tables, crc) ^ crc2;
}

}  // namespace

__attribute__((target("sse4.2"))) std::uint32_t crc32c_hardware(std::uint32_t crc, std::string_view bytes) noexcept {
  const auto* next = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t left = bytes.size();
  std::uint64_t state = ~crc;
  while (left > 0 && (reinterpret_cast<std::uintptr_t>(next) & 7u) != 0) {
    state = _mm_crc32_u8(static_cast<std::uint32_t>(state), *next++);
    --left;
  }
  for (; left >= 3 * kLongBlock; left -= 3 * kLongBlock, next += 3 * kLongBlock) {
    state = three_blocks(state, next, kLongBlock, kShiftLong);
  }
  for (; left >= 3 * kShortBlock; left -= 3 * kShortBlock, next += 3 * kShortBlock) {
    state = three_blocks(state, next, kShortBlock, kShiftShort);
  }
  for (; left >= 8; left -= 8, next += 8) state = _mm_crc32_u64(state, load_le64(next));
  while (left-- > 0) state = _mm_crc32_u8(static_cast<std::uint32_t>(state), *next++);
  return ~static_cast<std::uint32_t>(state);
}

bool crc32c_hardware_available() noexcept {
  unsigned int eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
  return (ecx & bit_SSE4_2) != 0;
}

#else

std::uint32_t crc32c_hardware(std::uint32_t crc, std::string_view bytes) noexcept {
  return crc32c_software(crc, bytes);
}
bool crc32c_hardware_available() noexcept { return false; }

#endif

std::uint32_t crc32c(std::uint32_t crc, std::string_view bytes) noexcept {
  static const bool hardware = crc32c_hardware_available();
  return hardware ? crc32c_hardware(crc, bytes) : crc32c_software(crc, bytes);
}

}  // namespace base
