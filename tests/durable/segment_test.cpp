#include "durable/segment.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "durable/log_scan.h"
#include "fault_injection_fs.h"
#include "support/temp_dir.h"

namespace durable {
namespace {

TEST(SegmentName, RoundTripsAndSortsAsNumbers) {
  EXPECT_EQ(segment_file_name(1), "segment-00000000000000000001.log");
  EXPECT_EQ(segment_file_name(UINT64_MAX), "segment-18446744073709551615.log");
  for (const std::uint64_t n : {std::uint64_t{1}, std::uint64_t{42}, std::uint64_t{1} << 40, UINT64_MAX}) {
    EXPECT_EQ(parse_segment_file_name(segment_file_name(n)), n);
  }
  EXPECT_LT(segment_file_name(9), segment_file_name(10));
  for (const char* other : {"segment-00000000000000000000.log", "segment-0000000000000000001.log",
                            "segment-0000000000000000000x.log", "segment-00000000000000000001.log.tmp",
                            "segment-99999999999999999999.log", "snapshot-00000000000000000001.log", ""}) {
    EXPECT_FALSE(parse_segment_file_name(other)) << other;
  }
  EXPECT_EQ(segment_path("/var/log/x", 3), "/var/log/x/" + segment_file_name(3));
  EXPECT_EQ(segment_path("/var/log/x/", 3), "/var/log/x/" + segment_file_name(3));
}

class SegmentTest : public ::testing::Test {
 protected:
  std::string dir() const { return dir_.path().string(); }
  test_support::TempDir dir_{"storage_api_segment"};
  PosixFileSystem real_;
  test::FaultInjectionFileSystem fs_{real_};
};

// Name, header and first batch record are durable once create_segment() returns.
TEST_F(SegmentTest, ANewSegmentSurvivesAPowerCut) {
  auto segment = create_segment(fs_, dir(), 4, 77);
  ASSERT_TRUE(segment) << segment.status().message();
  EXPECT_EQ(segment->size, kFileHeaderBytes + kBatchRecordBytes);
  ASSERT_TRUE(segment->file->close());
  ASSERT_TRUE(fs_.drop_unsynced());
  const auto bytes = real_.read_file(segment_path(dir(), 4));
  ASSERT_TRUE(bytes);
  const ScanResult result = scan_log(*bytes);
  EXPECT_EQ(result.verdict, ScanVerdict::kClean);
  EXPECT_EQ(result.header.segment, 4u);
  EXPECT_TRUE(result.batched);
  EXPECT_EQ(result.next_sequence, 77u);
  EXPECT_EQ(result.valid_end, bytes->size());
}

TEST_F(SegmentTest, RefusesAnExistingSegment) {
  auto first = create_segment(fs_, dir(), 1, 1);
  ASSERT_TRUE(first);
  const auto again = create_segment(fs_, dir(), 1, 1);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.status().error_number(), EEXIST);
  EXPECT_FALSE(create_segment(fs_, dir(), 0, 1));
  EXPECT_FALSE(create_segment(fs_, dir(), 2, 0));
}

// A segment that could not be made durable is not left behind to be mistaken for one.
TEST_F(SegmentTest, AFailedCreationRemovesTheFile) {
  for (const test::FaultOp op : {test::FaultOp::kAppend, test::FaultOp::kSyncData, test::FaultOp::kSyncDirectory}) {
    fs_.fail_nth(op, 1, ENOSPC);
    const auto segment = create_segment(fs_, dir(), 5, 1);
    ASSERT_FALSE(segment);
    EXPECT_TRUE(is_no_space(segment.status()));
    EXPECT_FALSE(real_.file_size(segment_path(dir(), 5))) << static_cast<int>(op);
  }
  EXPECT_TRUE(create_segment(fs_, dir(), 5, 1));
}

}  // namespace
}  // namespace durable
