// Damage recovery refuses, saying where, and what --repair drops: corruption inside a segment, a torn tail
// before the last segment, a damaged header, sequence numbers going back across segments, a missing or
// misnamed segment; and a log of another format version, which not even --repair drops.
#include "durable/recovery.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include "base/crc32c.h"
#include "recovery_harness.h"

namespace durable::test {
namespace {

TEST_F(RecoveryTest, ATornTailInASegmentWithLaterOnesIsDamage) {
  Log first = batched_segment(1, 1, 5);
  const std::size_t cut = first.bytes.size() - 3;
  first.bytes.resize(cut);
  write_segment(1, first.bytes);
  write_segment(2, batched_segment(2, 6, 3).bytes);
  CollectingSink sink;
  auto refused = run(sink);
  ASSERT_FALSE(refused);
  const std::string& message = refused.status().message();
  EXPECT_TRUE(is_log_damaged(refused.status()));
  EXPECT_TRUE(contains(message, path_of(1))) << message;
  const std::size_t bad = first.offsets[first.offsets.size() - 2];
  EXPECT_TRUE(contains(message, "at offset " + std::to_string(bad))) << message;
  EXPECT_TRUE(contains(message, "--repair would drop")) << message;
  EXPECT_TRUE(contains(message, "1 later segment")) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
  EXPECT_EQ(size_of_segment(1), cut);  // nothing changed
  EXPECT_TRUE(exists(2));
}

// A byte flipped inside synced data, valid records after it: refused, naming where; --repair cuts there,
// removes the later segments, says what it dropped, and the log is clean afterwards.
TEST_F(RecoveryTest, DamageIsRefusedAndRepairDropsItAndEverythingAfter) {
  Log first = batched_segment(1, 1, 8);
  // records: b(1) p1 p2 b(3) d3 p4 b(5) p5 d6 b(7) p7 p8; damage p4, the 6th entry.
  ASSERT_EQ(first.records[5].sequence, 4u);
  const std::size_t bad = first.offsets[5];
  const std::size_t resync = first.offsets[6];
  first.bytes[bad + kRecordFrameBytes + 20] ^= 0x10;
  write_segment(1, first.bytes);
  const Log second = batched_segment(2, 9, 4);
  write_segment(2, second.bytes);
  const Log third = batched_segment(3, 13, 2);
  write_segment(3, third.bytes);

  CollectingSink sink;
  auto refused = run(sink);
  ASSERT_FALSE(refused);
  const std::string& message = refused.status().message();
  EXPECT_TRUE(is_log_damaged(refused.status()));
  EXPECT_TRUE(contains(message, path_of(1) + " is damaged at offset " + std::to_string(bad))) << message;
  EXPECT_TRUE(contains(message, "resume at offset " + std::to_string(resync))) << message;
  EXPECT_TRUE(contains(message, std::to_string(first.bytes.size() - bad) + " bytes of this segment and 2 later"))
      << message;
  EXPECT_EQ(size_of_segment(1), first.bytes.size());
  EXPECT_TRUE(exists(2) && exists(3));

  std::vector<OwnedRecord> records;
  const RecoveryReport report = run_ok(&records, /*repair=*/true);
  const std::vector<OwnedRecord> all = data_records(first);
  EXPECT_EQ(records, std::vector<OwnedRecord>(all.begin(), all.begin() + 3));
  ASSERT_TRUE(report.repair);
  EXPECT_EQ(report.repair->file, path_of(1));
  EXPECT_EQ(report.repair->offset, bad);
  EXPECT_EQ(report.repair->resync_offset, resync);
  EXPECT_FALSE(report.repair->reason.empty());
  EXPECT_EQ(report.repair->dropped_bytes, first.bytes.size() - bad + second.bytes.size() + third.bytes.size());
  // p5 d6 p7 p8 after the resync point, and the later segments' 4 and 2.
  EXPECT_EQ(report.repair->dropped_records, 4u + 4u + 2u);
  EXPECT_EQ(report.repair->removed_segments, (std::vector<std::string>{path_of(2), path_of(3)}));
  EXPECT_FALSE(report.torn_tail);
  EXPECT_EQ(size_of_segment(1), bad);
  EXPECT_FALSE(exists(2));
  EXPECT_FALSE(exists(3));
  EXPECT_EQ(report.next_segment, 2u);
  EXPECT_EQ(report.next_sequence, 4u);

  // Durable: a power cut now changes nothing.
  fs_.cut_power();
  ASSERT_TRUE(fs_.drop_unsynced());
  std::vector<OwnedRecord> again;
  const RecoveryReport clean = run_ok(&again);
  EXPECT_EQ(again, records);
  EXPECT_FALSE(clean.repair);
  EXPECT_FALSE(clean.torn_tail);
  EXPECT_EQ(clean.next_segment, 2u);
}

// A damaged header with records after it leaves nothing to keep: --repair removes the file.
TEST_F(RecoveryTest, RepairRemovesASegmentDamagedFromItsStart) {
  const Log first = batched_segment(1, 1, 3);
  write_segment(1, first.bytes);
  Log second = batched_segment(2, 4, 3);
  second.bytes[12] ^= 0x01;  // in the segment number: the header's CRC fails
  write_segment(2, second.bytes);
  CollectingSink sink;
  auto refused = run(sink);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(contains(refused.status().message(), path_of(2) + " is damaged at offset 0"))
      << refused.status().message();

  std::vector<OwnedRecord> records;
  const RecoveryReport report = run_ok(&records, true);
  EXPECT_EQ(records, data_records(first));
  ASSERT_TRUE(report.repair);
  EXPECT_EQ(report.repair->offset, 0u);
  EXPECT_EQ(report.repair->dropped_bytes, second.bytes.size());
  EXPECT_EQ(report.repair->dropped_records, 3u);
  EXPECT_EQ(report.repair->removed_segments, std::vector<std::string>{path_of(2)});
  EXPECT_FALSE(exists(2));
  EXPECT_EQ(report.next_segment, 2u);
  EXPECT_EQ(report.next_sequence, 4u);
}

TEST_F(RecoveryTest, SequenceNumbersGoingBackAcrossSegmentsAreDamage) {
  write_segment(1, batched_segment(1, 1, 6).bytes);
  write_segment(2, batched_segment(2, 5, 3).bytes);
  CollectingSink sink;
  auto refused = run(sink);
  ASSERT_FALSE(refused);
  const std::string& message = refused.status().message();
  EXPECT_TRUE(is_log_damaged(refused.status()));
  EXPECT_TRUE(contains(message, path_of(2) + " is damaged at offset " + std::to_string(kFileHeaderBytes)))
      << message;
  EXPECT_TRUE(contains(message, "sequence number 5 is below 7")) << message;
  EXPECT_EQ(sink.records.size(), 6u);  // segment 2 gave nothing

  std::vector<OwnedRecord> records;
  const RecoveryReport report = run_ok(&records, true);
  EXPECT_EQ(records.size(), 6u);
  ASSERT_TRUE(report.repair);
  EXPECT_EQ(report.repair->offset, kFileHeaderBytes);
  EXPECT_EQ(report.repair->dropped_records, 3u);
  EXPECT_EQ(size_of_segment(2), kFileHeaderBytes);
  EXPECT_EQ(report.next_segment, 3u);
  EXPECT_EQ(report.next_sequence, 7u);
  const RecoveryReport clean = run_ok();
  EXPECT_FALSE(clean.repair);
  EXPECT_EQ(clean.next_sequence, 7u);
}

TEST_F(RecoveryTest, AMissingSegmentOrAMisnamedOneIsDamage) {
  write_segment(1, batched_segment(1, 1, 2).bytes);
  write_segment(3, batched_segment(3, 3, 2).bytes);
  CollectingSink sink;
  auto gap = run(sink);
  ASSERT_FALSE(gap);
  EXPECT_TRUE(contains(gap.status().message(),
                       path_of(3) + " is damaged at offset 0: segment 2, before it, is missing"))
      << gap.status().message();
  ASSERT_TRUE(real_.unlink(path_of(3)));

  write_segment(2, batched_segment(5, 3, 2).bytes);  // segment 5's bytes under segment 2's name
  CollectingSink again;
  auto misnamed = run(again);
  ASSERT_FALSE(misnamed);
  EXPECT_TRUE(contains(misnamed.status().message(), "its header says it is segment 5")) << misnamed.status().message();
}

// A segment's bytes with its header saying format `version` (and a CRC that matches).
std::string of_version(std::string bytes, std::uint8_t version) {
  bytes[kLogMagic.size()] = static_cast<char>(version);
  const std::uint32_t crc = base::crc32c_mask(base::crc32c(std::string_view(bytes.data(), kFileHeaderBytes - 4)));
  for (std::size_t i = 0; i < 4; ++i) bytes[kFileHeaderBytes - 4 + i] = static_cast<char>(crc >> (8 * i));
  return bytes;
}

TEST_F(RecoveryTest, ALogOfAnotherFormatVersionIsRefusedEvenWithRepair) {
  const std::string newer = of_version(batched_segment(1, 1, 2).bytes, 2);
  write_segment(1, newer);
  CollectingSink sink;
  auto refused = run(sink, /*repair=*/true);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.status().error_number(), ENOTSUP);
  EXPECT_FALSE(is_log_damaged(refused.status()));
  EXPECT_TRUE(contains(refused.status().message(), path_of(1))) << refused.status().message();
  EXPECT_EQ(size_of_segment(1), newer.size());
}

// Nor when it comes after damage that --repair would drop: nothing is dropped then.
TEST_F(RecoveryTest, RepairDropsNothingWhenALaterSegmentIsOfAnotherFormatVersion) {
  Log damaged = batched_segment(1, 1, 4);
  damaged.bytes[damaged.offsets[2] + kRecordFrameBytes + 2] ^= 0x01;
  write_segment(1, damaged.bytes);
  write_segment(2, batched_segment(2, 5, 2).bytes);
  write_segment(3, of_version(batched_segment(3, 7, 2).bytes, 2));
  CollectingSink sink;
  auto refused = run(sink, /*repair=*/true);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.status().error_number(), ENOTSUP);
  EXPECT_TRUE(contains(refused.status().message(), path_of(3))) << refused.status().message();
  EXPECT_TRUE(exists(2));
  EXPECT_TRUE(exists(3));
  EXPECT_EQ(size_of_segment(1), damaged.bytes.size());
}

}  // namespace
}  // namespace durable::test
