#pragma once
// CRC32C (Castagnoli; polynomial 0x1EDC6F41, 0x82F63B78 reflected): the checksum of the durable log's
// records and file headers, as in iSCSI (RFC 3720), ext4 metadata, LevelDB and RocksDB. Chosen over zlib's
// CRC-32 because x86-64 (SSE4.2 `crc32`) and ARMv8 compute it in hardware, and for its better error
// detection at the lengths of log records.
//
// crc32c(crc, bytes) extends `crc`, the CRC of some bytes A, to the CRC of A followed by `bytes`:
//   crc32c(crc32c(0, a), b) == crc32c(0, a + b), and crc32c(0, "") == 0
// so a record's CRC can be computed over its head and then its value without joining them.
//
// crc32c() uses the CPU's instruction when the CPU has it (asked once, with cpuid, at the first call) and
// slicing-by-8 tables otherwise. The hardware function is compiled for SSE4.2 on its own, so the binary
// still runs on a CPU without it; off x86-64 there is only the software path. Both are exposed for the
// tests (which compare them) and the benchmark.
//
// Stored CRCs are masked (crc32c_mask), as LevelDB does. The CRC of some bytes followed by their own CRC is
// a constant (the CRC's residue), whatever the bytes: a CRC computed over data that embeds CRCs — a log
// record stored as a value, a log segment copied into a snapshot — would be blind to exactly the damage
// that keeps the embedded pairs consistent. Masking (a rotation and an added constant) breaks that algebra.
// Nothing here allocates or fails.
#include <cstdint>
#include <string_view>

namespace base {

std::uint32_t crc32c(std::uint32_t crc, std::string_view bytes) noexcept;
inline std::uint32_t crc32c(std::string_view bytes) noexcept { return crc32c(0, bytes); }

// The two implementations behind crc32c(). crc32c_hardware() must only be called when
// crc32c_hardware_available(); where there is no hardware path it is the software one.
std::uint32_t crc32c_software(std::uint32_t crc, std::string_view bytes) noexcept;
std::uint32_t crc32c_hardware(std::uint32_t crc, std::string_view bytes) noexcept;
bool crc32c_hardware_available() noexcept;

inline constexpr std::uint32_t kCrc32cMaskDelta = 0xa282ead8u;

constexpr std::uint32_t crc32c_mask(std::uint32_t crc) noexcept {
  return ((crc >> 15) | (crc << 17)) + kCrc32cMaskDelta;
}
constexpr std::uint32_t crc32c_unmask(std::uint32_t masked) noexcept {
  const std::uint32_t rotated = masked - kCrc32cMaskDelta;
  return (rotated >> 17) | (rotated << 15);
}

}  // namespace base
