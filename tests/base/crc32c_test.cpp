#include "base/crc32c.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace base {
namespace {

std::string bytes_from(std::initializer_list<int> values) {
  std::string out;
  for (const int v : values) out.push_back(static_cast<char>(v));
  return out;
}

std::string ascending(std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(static_cast<char>(i));
  return out;
}

std::string random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

// The standard check value of the CRC-32C parameter set ("123456789"), and RFC 3720 appendix B.4.
struct Vector {
  const char* name;
  std::string bytes;
  std::uint32_t crc;
};

std::vector<Vector> known_vectors() {
  std::string descending;
  for (int i = 31; i >= 0; --i) descending.push_back(static_cast<char>(i));
  return {
      {"check", "123456789", 0xE3069283u},
      {"empty", "", 0u},
      {"32 zeros", std::string(32, '\0'), 0x8A9136AAu},
      {"32 0xFF", std::string(32, '\xff'), 0x62A8AB43u},
      {"0..31", ascending(32), 0x46DD794Eu},
      {"31..0", descending, 0x113FDB5Cu},
      // RFC 3720 B.4's iSCSI Read (10) command PDU.
      {"iSCSI read PDU",
       bytes_from({0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                   0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14,
                   0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00,
                   0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),
       0xD9963A56u},
  };
}

TEST(Crc32c, KnownVectors) {
  for (const Vector& v : known_vectors()) {
    EXPECT_EQ(crc32c(v.bytes), v.crc) << v.name;
    EXPECT_EQ(crc32c_software(0, v.bytes), v.crc) << v.name;
    if (crc32c_hardware_available()) {
      EXPECT_EQ(crc32c_hardware(0, v.bytes), v.crc) << v.name;
    }
  }
}

// Every length up to 1024 at every offset from an 8-byte boundary (and a little more, so both the aligned
// and the unaligned starts of the word loops are covered), hardware against software.
TEST(Crc32c, HardwareMatchesSoftwareAtEveryLengthAndAlignment) {
  if (!crc32c_hardware_available()) GTEST_SKIP() << "this CPU has no crc32 instruction";
  const std::string buffer = random_bytes(1024 + 64, 1);
  const std::uintptr_t base_address = reinterpret_cast<std::uintptr_t>(buffer.data());
  const std::size_t to_aligned = (8 - base_address % 8) % 8;
  for (std::size_t alignment = 0; alignment < 16; ++alignment) {
    for (std::size_t length = 0; length <= 1024; ++length) {
      const std::string_view piece(buffer.data() + to_aligned + alignment, length);
      ASSERT_EQ(crc32c_hardware(0, piece), crc32c_software(0, piece))
          << "length " << length << " alignment " << alignment;
      ASSERT_EQ(crc32c_hardware(0x12345678u, piece), crc32c_software(0x12345678u, piece))
          << "length " << length << " alignment " << alignment;
    }
  }
}

// The three-way blocks of the hardware path join at 3 x 256 and 3 x 8192 bytes: lengths around and past
// those, and a buffer of several long blocks.
TEST(Crc32c, HardwareMatchesSoftwareAcrossTheBlockSizes) {
  if (!crc32c_hardware_available()) GTEST_SKIP() << "this CPU has no crc32 instruction";
  const std::string buffer = random_bytes(200'000, 2);
  for (const std::size_t length : {767u, 768u, 769u, 1535u, 1536u, 24575u, 24576u, 24577u, 24576u + 768u + 7u,
                                   49152u, 100'003u, 199'990u}) {
    for (std::size_t alignment = 0; alignment < 9; ++alignment) {
      const std::string_view piece(buffer.data() + alignment, length);
      ASSERT_EQ(crc32c_hardware(0, piece), crc32c_software(0, piece))
          << "length " << length << " alignment " << alignment;
    }
  }
}

TEST(Crc32c, ExtendingEqualsTheCrcOfTheConcatenation) {
  const std::string whole = random_bytes(3000, 3);
  const std::uint32_t expected = crc32c_software(0, whole);
  for (std::size_t cut = 0; cut <= whole.size(); cut += (cut < 64 ? 1 : 97)) {
    const std::string_view a(whole.data(), cut);
    const std::string_view b(whole.data() + cut, whole.size() - cut);
    ASSERT_EQ(crc32c(crc32c(a), b), expected) << "cut " << cut;
    ASSERT_EQ(crc32c_software(crc32c_software(0, a), b), expected) << "cut " << cut;
    if (crc32c_hardware_available()) {
      ASSERT_EQ(crc32c_hardware(crc32c_hardware(0, a), b), expected) << "cut " << cut;
    }
  }
  EXPECT_EQ(crc32c(crc32c("1234"), "56789"), 0xE3069283u);
}

TEST(Crc32c, DifferentBytesGiveDifferentCrcs) {
  EXPECT_NE(crc32c("a"), crc32c("b"));
  EXPECT_NE(crc32c(std::string(8, '\0')), crc32c(std::string(9, '\0')));  // length matters, even of zeros
}

TEST(Crc32cMask, UnmaskUndoesMask) {
  for (const std::uint32_t crc : {0u, 1u, 0xE3069283u, 0xffffffffu, 0x80000000u, kCrc32cMaskDelta}) {
    EXPECT_EQ(crc32c_unmask(crc32c_mask(crc)), crc);
    EXPECT_NE(crc32c_mask(crc), crc);
  }
  // Masking twice is not the identity: a masked CRC stored as data does not unmask to itself.
  const std::uint32_t crc = crc32c("foo");
  EXPECT_NE(crc32c_mask(crc32c_mask(crc)), crc);
  EXPECT_NE(crc32c_mask(crc), crc32c_mask(crc32c_mask(crc)));
}

// Why the mask: appended to its data, a raw CRC makes a string whose CRC is the same constant whatever the
// data; a masked one does not.
TEST(Crc32cMask, DataFollowedByItsRawCrcHasAConstantCrcButNotWithTheMask) {
  auto with_crc = [](std::string data, std::uint32_t stored) {
    for (int i = 0; i < 4; ++i) data.push_back(static_cast<char>(stored >> (8 * i)));
    return crc32c(data);
  };
  const std::string a = "first record";
  const std::string b = random_bytes(100, 4);
  EXPECT_EQ(with_crc(a, crc32c(a)), with_crc(b, crc32c(b)));
  EXPECT_NE(with_crc(a, crc32c_mask(crc32c(a))), with_crc(b, crc32c_mask(crc32c(b))));
}

}  // namespace
}  // namespace base
