// scan_log on logs with batch records, as the log writer lays them out: the rule that tells a batch torn by
// a power cut (pages reaching the disk in any order) from damage to what was synced.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "durable/log_scan.h"
#include "log_builder.h"

namespace durable {
namespace {

using test::Log;
using test::OwnedRecord;
using test::scan;
using test::Scanned;

// Segment 3 as written under FSYNC=always: the batch record written with the header (nothing durable
// yet), then three batches, each saying that everything before it was synced.
Log batched_log() {
  Log log(3);
  log.batch(1, 0);                                                                    // 0
  log.batch(1).add(put_record(1, "a", std::string(100, 'a'), 1, 1, "text/plain"));   // 1, 2
  log.add(put_record(2, "b", std::string(200, 'b'), 2, 2, ""));                     // 3
  log.batch(3).add(delete_record(3, "a")).add(put_record(4, "c", "c", 4, 4, ""));   // 4, 5, 6
  log.batch(5).add(put_record(5, "d", std::string(300, 'd'), 5, 5, ""));             // 7, 8
  log.add(delete_record(6, "b"));                                                    // 9
  return log;
}
constexpr std::size_t kLastBatch = 7;  // index of the last batch record

std::vector<OwnedRecord> first(const Log& log, std::size_t n) {
  return std::vector<OwnedRecord>(log.records.begin(), log.records.begin() + static_cast<std::ptrdiff_t>(n));
}

void zero(std::string& bytes, std::size_t from, std::size_t to) {
  std::fill(bytes.begin() + static_cast<std::ptrdiff_t>(from), bytes.begin() + static_cast<std::ptrdiff_t>(to), '\0');
}

TEST(ScanBatchedLog, ACleanLogCountsBatchesApartFromRecords) {
  const Log log = batched_log();
  const Scanned scanned = scan(log.bytes);
  EXPECT_EQ(scanned.result.verdict, ScanVerdict::kClean);
  EXPECT_TRUE(scanned.result.batched);
  EXPECT_EQ(scanned.result.records, 6u);
  EXPECT_EQ(scanned.result.batches, 4u);
  EXPECT_EQ(scanned.result.last_sequence, 6u);
  EXPECT_EQ(scanned.result.next_sequence, 7u);
  EXPECT_EQ(scanned.records, log.records);
  EXPECT_EQ(scanned.offsets, log.offsets);
}

// A segment just created or rotated holds its first batch record alone; the next sequence number is its.
TEST(ScanBatchedLog, AnEmptySegmentKnowsTheNextSequenceNumber) {
  Log log(9);
  log.batch(41, 0);
  const Scanned scanned = scan(log.bytes);
  EXPECT_EQ(scanned.result.verdict, ScanVerdict::kClean);
  EXPECT_EQ(scanned.result.records, 0u);
  EXPECT_EQ(scanned.result.next_sequence, 41u);
}

// The power went while the last batch was being synced: its first page never reached the disk, later ones
// did. Nothing of that batch was acknowledged, so recovery truncates where the hole starts.
TEST(ScanBatchedLog, AHoleInTheLastBatchFollowedByItsRecordsIsATornTail) {
  const Log log = batched_log();
  for (const std::size_t hole : {kLastBatch, kLastBatch + 1, kLastBatch + 2}) {
    std::string holed = log.bytes;
    zero(holed, log.offsets[hole], log.offsets[hole] + 20);
    const Scanned scanned = scan(holed);
    SCOPED_TRACE("hole at record " + std::to_string(hole));
    EXPECT_EQ(scanned.result.verdict, ScanVerdict::kTornTail) << scanned.result.reason;
    EXPECT_EQ(scanned.result.valid_end, log.offsets[hole]);
    EXPECT_EQ(scanned.records, first(log, hole));
  }
}

// The same hole in a batch that a later batch record says was synced: damage to durable data.
TEST(ScanBatchedLog, AHoleBeforeABatchThatSaysItWasSyncedIsCorruption) {
  const Log log = batched_log();
  std::string holed = log.bytes;
  zero(holed, log.offsets[5], log.offsets[6]);
  const Scanned scanned = scan(holed);
  EXPECT_EQ(scanned.result.verdict, ScanVerdict::kCorrupt);
  EXPECT_EQ(scanned.result.bad_offset, log.offsets[5]);
  EXPECT_EQ(scanned.result.resync_offset, log.offsets[6]);
  EXPECT_EQ(scanned.records, first(log, 5));
}

// Under FSYNC=everysec several batches are written between syncs, each saying how far the log was synced
// then; holes anywhere after that point are a torn tail.
TEST(ScanBatchedLog, UnsyncedBatchesMayHaveHolesAnywhere) {
  Log log(1);
  log.batch(1, 0);
  const std::size_t synced = log.bytes.size();
  for (std::uint64_t sequence = 1; sequence <= 8; sequence += 2) {
    log.batch(sequence, synced)
        .add(put_record(sequence, "k", std::string(500, 'v'), 0, 0, ""))
        .add(delete_record(sequence + 1, "k"));
  }
  for (std::size_t hole = 1; hole + 1 < log.offsets.size(); ++hole) {
    std::string holed = log.bytes;
    zero(holed, log.offsets[hole], log.offsets[hole + 1]);
    const Scanned scanned = scan(holed);
    SCOPED_TRACE("hole at record " + std::to_string(hole));
    EXPECT_EQ(scanned.result.verdict, ScanVerdict::kTornTail) << scanned.result.reason;
    EXPECT_EQ(scanned.result.valid_end, log.offsets[hole]);
  }
  // Once a batch says the log was synced past the hole, it is corruption.
  log.batch(9);
  std::string holed = log.bytes;
  zero(holed, log.offsets[2], log.offsets[3]);
  EXPECT_EQ(scan(holed).result.verdict, ScanVerdict::kCorrupt);
}

// Any truncation leaves a prefix ending at a record boundary, never corruption.
TEST(ScanBatchedLog, EveryTruncationRecoversAPrefix) {
  const Log log = batched_log();
  for (std::size_t cut = kFileHeaderBytes; cut <= log.bytes.size(); ++cut) {
    const Scanned scanned = scan(std::string_view(log.bytes).substr(0, cut));
    SCOPED_TRACE("cut at " + std::to_string(cut));
    ASSERT_NE(scanned.result.verdict, ScanVerdict::kCorrupt) << scanned.result.reason;
    std::size_t whole = 0;
    while (whole < log.records.size() && log.offsets[whole + 1] <= cut) ++whole;
    EXPECT_EQ(scanned.result.valid_end, log.offsets[whole]);
    EXPECT_EQ(scanned.records, first(log, whole));
  }
}

// A flip in the last batch (its batch record included) is a torn tail; anywhere before it, a later batch
// record says the bytes were synced, so corruption at the flipped record. The first batch record is
// judged by the rule for logs without batches, there being none before it: corruption too.
TEST(ScanBatchedLog, EverySingleBitFlipIsTornInTheLastBatchAndCorruptBefore) {
  const Log log = batched_log();
  for (std::size_t bit = kFileHeaderBytes * 8; bit < log.bytes.size() * 8; ++bit) {
    std::string flipped = log.bytes;
    const std::size_t byte = bit / 8;
    flipped[byte] = static_cast<char>(flipped[byte] ^ (1 << (bit % 8)));
    const Scanned scanned = scan(flipped);
    SCOPED_TRACE("bit " + std::to_string(bit));
    const auto record = static_cast<std::size_t>(
        std::upper_bound(log.offsets.begin(), log.offsets.end(), byte) - log.offsets.begin() - 1);
    EXPECT_EQ(scanned.records, first(log, record));
    EXPECT_EQ(scanned.result.bad_offset, log.offsets[record]);
    if (record >= kLastBatch) {
      EXPECT_EQ(scanned.result.verdict, ScanVerdict::kTornTail) << scanned.result.reason;
    } else {
      EXPECT_EQ(scanned.result.verdict, ScanVerdict::kCorrupt) << scanned.result.reason;
      EXPECT_EQ(scanned.result.resync_offset, log.offsets[record + 1]);
    }
  }
}

TEST(ScanBatchedLog, BatchRecordsKeepSequenceNumbersInOrder) {
  // Consecutive batch records may share a sequence number (an empty batch); records follow from it.
  Log same(1);
  same.batch(5, 0).batch(5).add(delete_record(5, "x")).batch(6).batch(6);
  EXPECT_EQ(scan(same.bytes).result.verdict, ScanVerdict::kClean);
  EXPECT_EQ(scan(same.bytes).result.next_sequence, 6u);

  // A record below its batch's sequence number, or a batch record not above the last record, is bad.
  Log below(1);
  below.batch(5, 0).add(delete_record(4, "x"));
  const Scanned below_scanned = scan(below.bytes);
  EXPECT_EQ(below_scanned.result.verdict, ScanVerdict::kTornTail);
  EXPECT_EQ(below_scanned.result.reason, "sequence number not above the last one");
  EXPECT_EQ(below_scanned.result.valid_end, below.offsets[1]);

  Log stale_batch(1);
  stale_batch.batch(1, 0).add(delete_record(3, "x")).batch(3);
  EXPECT_EQ(scan(stale_batch.bytes).result.valid_end, stale_batch.offsets[2]);
}

TEST(ScanBatchedLog, ABatchRecordClaimingDurableBytesPastItselfIsBad) {
  Log log(1);
  log.batch(1, 0).add(delete_record(1, "x"));
  const std::size_t at = log.bytes.size();
  log.batch(2, at + 1).add(delete_record(2, "y"));
  const Scanned scanned = scan(log.bytes);
  EXPECT_EQ(scanned.result.verdict, ScanVerdict::kTornTail);
  EXPECT_EQ(scanned.result.reason, "batch record claiming durable bytes past itself");
  EXPECT_EQ(scanned.result.valid_end, at);
  // Nor does such a record, found after a bad one, prove anything.
  Log later(1);
  later.batch(1, 0).add(delete_record(1, "x")).add(delete_record(2, "y"));
  const std::size_t bad = later.offsets[2];
  later.batch(3, later.bytes.size() + 1);
  std::string holed = later.bytes;
  zero(holed, bad, bad + 4);
  EXPECT_EQ(scan(holed).result.verdict, ScanVerdict::kTornTail);
}

}  // namespace
}  // namespace durable
