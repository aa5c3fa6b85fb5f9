#include "durable/log_scan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "base/crc32c.h"
#include "log_builder.h"

namespace durable {
namespace {

using test::Log;
using test::OwnedRecord;
using test::scan;
using test::Scanned;
using test::six_record_log;

std::vector<OwnedRecord> first(const Log& log, std::size_t n) {
  return std::vector<OwnedRecord>(log.records.begin(), log.records.begin() + static_cast<std::ptrdiff_t>(n));
}

TEST(ScanLog, ACleanLogGivesEveryRecordInOrder) {
  const Log log = six_record_log();
  const Scanned scanned = scan(log.bytes);
  EXPECT_EQ(scanned.result.verdict, ScanVerdict::kClean);
  EXPECT_TRUE(scanned.result.header_valid);
  EXPECT_EQ(scanned.result.header.segment, 7u);
  EXPECT_EQ(scanned.result.valid_end, log.bytes.size());
  EXPECT_EQ(scanned.result.records, 6u);
  EXPECT_EQ(scanned.result.last_sequence, 6u);
  EXPECT_EQ(scanned.records, log.records);
  EXPECT_EQ(scanned.offsets, log.offsets);
}

TEST(ScanLog, AHeaderAloneIsACleanEmptyLog) {
  const Log log;
  const Scanned scanned = scan(log.bytes);
  EXPECT_EQ(scanned.result.verdict, ScanVerdict::kClean);
  EXPECT_EQ(scanned.result.valid_end, kFileHeaderBytes);
  EXPECT_EQ(scanned.result.records, 0u);
}

// A crash can cut the file anywhere: what is left is always a prefix of the records, ending at a record
// boundary, and never taken for corruption.
TEST(ScanLog, EveryTruncationRecoversAPrefix) {
  const Log log = six_record_log();
  for (std::size_t cut = 0; cut <= log.bytes.size(); ++cut) {
    const Scanned scanned = scan(std::string_view(log.bytes).substr(0, cut));
    const ScanResult& result = scanned.result;
    SCOPED_TRACE("cut at " + std::to_string(cut));
    ASSERT_NE(result.verdict, ScanVerdict::kCorrupt) << result.reason;
    // The boundary at or before the cut: 0 inside the header, else the end of the last whole record.
    std::size_t whole = 0;
    while (whole < log.records.size() && log.offsets[whole + 1] <= cut) ++whole;
    const std::size_t boundary = cut < kFileHeaderBytes ? 0 : log.offsets[whole];
    EXPECT_EQ(result.valid_end, boundary);
    EXPECT_EQ(scanned.records, first(log, whole));
    EXPECT_EQ(result.verdict == ScanVerdict::kClean, cut == boundary && cut != 0);
    if (result.verdict == ScanVerdict::kTornTail) {
      EXPECT_EQ(result.bad_offset, boundary);
    }
  }
}

// CRC32C catches every single-bit error, so a flip is never taken for a different record: in the last
// record it reads as a torn tail, anywhere else as corruption at the damaged record (or header), with the
// next record found after it.
TEST(ScanLog, EverySingleBitFlipIsATornTailOrCorruptionAtTheFlippedRecord) {
  const Log log = six_record_log();
  const std::size_t last = log.records.size() - 1;
  for (std::size_t bit = 0; bit < log.bytes.size() * 8; ++bit) {
    std::string flipped = log.bytes;
    const std::size_t byte = bit / 8;
    flipped[byte] = static_cast<char>(flipped[byte] ^ (1 << (bit % 8)));
    const Scanned scanned = scan(flipped);
    const ScanResult& result = scanned.result;
    SCOPED_TRACE("bit " + std::to_string(bit));
    if (byte < kFileHeaderBytes) {
      EXPECT_EQ(result.verdict, ScanVerdict::kCorrupt);
      EXPECT_EQ(result.bad_offset, 0u);
      EXPECT_TRUE(scanned.records.empty());
      if (byte >= kLogMagic.size()) {
        EXPECT_EQ(result.resync_offset, kFileHeaderBytes);
      }
      continue;
    }
    const auto record = static_cast<std::size_t>(
        std::upper_bound(log.offsets.begin(), log.offsets.end(), byte) - log.offsets.begin() - 1);
    EXPECT_EQ(scanned.records, first(log, record));
    EXPECT_EQ(result.valid_end, log.offsets[record]);
    EXPECT_EQ(result.bad_offset, log.offsets[record]);
    if (record == last) {
      EXPECT_EQ(result.verdict, ScanVerdict::kTornTail) << result.reason;
    } else {
      EXPECT_EQ(result.verdict, ScanVerdict::kCorrupt) << result.reason;
      EXPECT_EQ(result.resync_offset, log.offsets[record + 1]);
    }
  }
}

TEST(ScanLog, GarbageAfterTheLastRecordIsATornTail) {
  const Log log = six_record_log();
  std::mt19937 rng(7);
  for (const std::size_t size : {1u, 7u, 8u, 19u, 100u, 4096u}) {
    std::string bytes = log.bytes;
    for (std::size_t i = 0; i < size; ++i) bytes.push_back(static_cast<char>(rng()));
    const Scanned scanned = scan(bytes);
    EXPECT_EQ(scanned.result.verdict, ScanVerdict::kTornTail) << size;
    EXPECT_EQ(scanned.result.valid_end, log.bytes.size()) << size;
    EXPECT_EQ(scanned.records, log.records) << size;
  }
}

// What a file system that extended the size before the data, or preallocation, leaves behind.
TEST(ScanLog, AZeroFilledTailIsATornTail) {
  const Log log = six_record_log();
  const Scanned zeros = scan(log.bytes + std::string(4096, '\0'));
  EXPECT_EQ(zeros.result.verdict, ScanVerdict::kTornTail);
  EXPECT_EQ(zeros.result.valid_end, log.bytes.size());
  EXPECT_EQ(zeros.records, log.records);

  // The last record's block never reached the disk: zeros where it and what follows should be.
  std::string holed = log.bytes.substr(0, log.offsets[5]) + std::string(log.bytes.size() - log.offsets[5] + 512, '\0');
  const Scanned torn = scan(holed);
  EXPECT_EQ(torn.result.verdict, ScanVerdict::kTornTail);
  EXPECT_EQ(torn.result.valid_end, log.offsets[5]);
  EXPECT_EQ(torn.records, first(log, 5));

  // A header never written: the file is all zeros.
  const Scanned blank = scan(std::string(4096, '\0'));
  EXPECT_EQ(blank.result.verdict, ScanVerdict::kTornTail);
  EXPECT_EQ(blank.result.valid_end, 0u);
}

// A hole with good records after it is corruption, even if the hole may be a batch's pages reaching the
// disk out of order: the verdict refuses rather than drop records that may have been acknowledged.
TEST(ScanLog, ZerosFollowedByARecordAreCorruption) {
  const Log log = six_record_log();
  std::string holed = log.bytes;
  std::fill(holed.begin() + static_cast<std::ptrdiff_t>(log.offsets[2]),
            holed.begin() + static_cast<std::ptrdiff_t>(log.offsets[4]), '\0');
  const Scanned scanned = scan(holed);
  EXPECT_EQ(scanned.result.verdict, ScanVerdict::kCorrupt);
  EXPECT_EQ(scanned.result.bad_offset, log.offsets[2]);
  EXPECT_EQ(scanned.result.resync_offset, log.offsets[4]);
  EXPECT_EQ(scanned.records, first(log, 2));
}

// Old records after the tail (a reused file, a rewritten tail) have lower sequence numbers: no reason to
// refuse. A record repeating the last sequence number is not new either.
TEST(ScanLog, StaleRecordsAfterTheTailAreATornTail) {
  const Log log = six_record_log();
  const std::string stale = log.bytes.substr(log.offsets[1], log.offsets[4] - log.offsets[1]);
  const Scanned after_garbage = scan(log.bytes + "garbage" + stale);
  EXPECT_EQ(after_garbage.result.verdict, ScanVerdict::kTornTail);
  EXPECT_EQ(after_garbage.result.valid_end, log.bytes.size());

  const Scanned repeated = scan(log.bytes + log.bytes.substr(log.offsets[5]));
  EXPECT_EQ(repeated.result.verdict, ScanVerdict::kTornTail);
  EXPECT_EQ(repeated.result.reason, "sequence number not above the last one");
  EXPECT_EQ(repeated.records, log.records);

  Log newer = six_record_log();
  newer.add(delete_record(100, "later"));
  const std::string later = newer.bytes.substr(newer.offsets[6]);
  const Scanned with_later = scan(log.bytes + "garbage" + later);
  EXPECT_EQ(with_later.result.verdict, ScanVerdict::kCorrupt);
  EXPECT_EQ(with_later.result.resync_offset, log.bytes.size() + 7);
}

TEST(ScanLog, HeaderProblems) {
  const Log log = six_record_log();

  const Scanned empty = scan("");
  EXPECT_EQ(empty.result.verdict, ScanVerdict::kTornTail);
  EXPECT_EQ(empty.result.valid_end, 0u);
  EXPECT_EQ(empty.result.reason, "empty log file");

  const Scanned header_cut = scan(log.bytes.substr(0, 10));
  EXPECT_EQ(header_cut.result.verdict, ScanVerdict::kTornTail);
  EXPECT_FALSE(header_cut.result.header_valid);

  // Not ours: never truncated, even with nothing else in it.
  const Scanned foreign = scan("#!/bin/sh\necho hello\n" + std::string(40, ' '));
  EXPECT_EQ(foreign.result.verdict, ScanVerdict::kCorrupt);
  EXPECT_EQ(foreign.result.reason, "not a storage_api log (bad magic)");
  EXPECT_EQ(scan("ELF").result.verdict, ScanVerdict::kCorrupt);

  // A newer format, header only: refused, not truncated.
  std::string newer = log.bytes.substr(0, kFileHeaderBytes);
  newer[8] = 2;
  const std::string body = newer.substr(0, 20);
  newer = body + [&] {
    const std::uint32_t masked = base::crc32c_mask(base::crc32c(body));
    std::string crc;
    for (int i = 0; i < 4; ++i) crc.push_back(static_cast<char>(masked >> (8 * i)));
    return crc;
  }();
  const Scanned unsupported = scan(newer);
  EXPECT_EQ(unsupported.result.verdict, ScanVerdict::kCorrupt);
  EXPECT_EQ(unsupported.result.reason, "log of a format version this build does not read");

  // A damaged header on its own is torn; with records after it, corruption.
  std::string damaged = log.bytes;
  damaged[15] = static_cast<char>(damaged[15] ^ 1);
  const Scanned alone = scan(damaged.substr(0, kFileHeaderBytes));
  EXPECT_EQ(alone.result.verdict, ScanVerdict::kTornTail);
  const Scanned followed = scan(damaged);
  EXPECT_EQ(followed.result.verdict, ScanVerdict::kCorrupt);
  EXPECT_EQ(followed.result.resync_offset, kFileHeaderBytes);
  EXPECT_TRUE(followed.records.empty());
}

TEST(ScanLog, ARecordOverTheScannersLimitIsBad) {
  const Log log = six_record_log();
  // Record 5 (index 4) has a 300-byte value; the others fit under 100 bytes of payload.
  const Scanned scanned = scan(log.bytes, RecordLimits{100});
  EXPECT_EQ(scanned.result.verdict, ScanVerdict::kCorrupt);
  EXPECT_EQ(scanned.result.bad_offset, log.offsets[4]);
  EXPECT_EQ(scanned.result.resync_offset, log.offsets[5]);
  EXPECT_EQ(scanned.result.reason, "implausible payload length");
}

// Values can be made of record heads that pass every cheap check and claim to run to the end of the file;
// after a torn record, checking each one's CRC would cost the square of the tail. The budget stops that.
TEST(ScanLog, TheSearchAfterABadRecordIsBounded) {
  const Log log = six_record_log();
  std::string bytes = log.bytes + "torn";
  constexpr std::size_t kTail = 4 << 20;
  constexpr std::size_t kSpacing = 64;
  const std::size_t start = bytes.size();
  bytes.resize(start + kTail, 'v');
  auto put_le = [&](std::size_t at, std::uint64_t value, int width) {
    for (int i = 0; i < width; ++i) bytes[at + static_cast<std::size_t>(i)] = static_cast<char>(value >> (8 * i));
  };
  for (std::size_t at = start; at + kPutFixedPayloadBytes + kRecordFrameBytes <= bytes.size(); at += kSpacing) {
    const std::uint64_t payload = bytes.size() - at - kRecordFrameBytes;
    put_le(at, 0, 4);                                           // a wrong CRC
    put_le(at + 4, payload, 4);                                 // running to the end of the file
    put_le(at + 8, 1000, 8);                                    // a sequence number above the last
    bytes[at + 16] = 1;                                         // put
    put_le(at + 17, 0, 8);                                      // etag
    put_le(at + 25, 0, 8);                                      // modified
    put_le(at + 33, 0, 4);                                      // no content type, no id
    put_le(at + 37, payload - kPutFixedPayloadBytes, 8);        // the value takes the rest
  }
  const Scanned scanned = scan(bytes);
  EXPECT_EQ(scanned.result.verdict, ScanVerdict::kCorrupt);
  EXPECT_EQ(scanned.result.reason, "could not tell a torn tail from corruption within the search budget");
  EXPECT_EQ(scanned.result.resync_offset, 0u);
  EXPECT_EQ(scanned.result.valid_end, log.bytes.size());
  EXPECT_EQ(scanned.records, log.records);
}

TEST(ScanLog, WithoutACallbackStillJudges) {
  const Log log = six_record_log();
  const ScanResult result = scan_log(log.bytes);
  EXPECT_EQ(result.verdict, ScanVerdict::kClean);
  EXPECT_EQ(result.records, 6u);
}

}  // namespace
}  // namespace durable
