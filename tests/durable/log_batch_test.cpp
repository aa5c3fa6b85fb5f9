#include "durable/log_batch.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "durable/log_scan.h"
#include "durable/record.h"
#include "log_builder.h"

namespace durable {
namespace {

std::string joined(const LogBatch& batch) {
  std::string out;
  for (const std::string_view piece : batch.pieces()) out.append(piece);
  return out;
}

// The pieces, written one after another, are exactly the batch record and the records as append_record()
// encodes them; small values travel inside the buffer, large ones as their own piece, from where they lie.
TEST(LogBatch, LaysOutTheBatchRecordAndTheRecordsForOneGatherWrite) {
  const std::string small(LogBatch::kInlineValueBytes, 's');
  const std::string large(LogBatch::kInlineValueBytes + 1, 'L');
  const std::string other_large(70'000, 'M');
  const std::vector<Record> records{
      put_record(5, "a", small, 1, 2, "text/plain"), delete_record(6, "a"), put_record(7, "b", large, 3, 4, ""),
      put_record(8, "c", other_large, 5, 6, "x"),   put_record(9, "d", "", 0, 0, ""),
  };
  LogBatch batch;
  ASSERT_TRUE(batch.build(1234, records, RecordLimits{}));

  std::string expected;
  ASSERT_TRUE(append_record(batch_record(5, 1234), RecordLimits{}, expected));
  for (const Record& record : records) ASSERT_TRUE(append_record(record, RecordLimits{}, expected));
  EXPECT_EQ(joined(batch), expected);
  EXPECT_EQ(batch.size(), expected.size());

  // buffer (batch record, a, delete, b's head) | b's value | buffer (c's head) | c's value | buffer (d)
  ASSERT_EQ(batch.pieces().size(), 5u);
  EXPECT_EQ(batch.pieces()[1].data(), large.data());
  EXPECT_EQ(batch.pieces()[3].data(), other_large.data());

  std::uint64_t end = kBatchRecordBytes;
  ASSERT_EQ(batch.ends().size(), records.size() + 1);
  EXPECT_EQ(batch.ends()[0], end);
  for (std::size_t i = 0; i < records.size(); ++i) {
    end += record_size(records[i]);
    EXPECT_EQ(batch.ends()[i + 1], end);
  }
}

TEST(LogBatch, TellsTheWholeRecordsWithinAPartialWrite) {
  const std::vector<Record> records{delete_record(1, "a"), delete_record(2, "bb")};
  LogBatch batch;
  ASSERT_TRUE(batch.build(0, records, RecordLimits{}));
  const std::uint64_t first = kBatchRecordBytes + record_size(records[0]);
  for (std::uint64_t bytes = 0; bytes <= batch.size(); ++bytes) {
    const LogBatch::Cut cut = batch.whole_records_within(bytes);
    SCOPED_TRACE(bytes);
    if (bytes < kBatchRecordBytes) {
      EXPECT_EQ(cut.records, 0u);
      EXPECT_EQ(cut.keep_bytes, 0u);
    } else if (bytes < first) {
      EXPECT_EQ(cut.records, 0u);
      EXPECT_EQ(cut.keep_bytes, kBatchRecordBytes);
    } else if (bytes < batch.size()) {
      EXPECT_EQ(cut.records, 1u);
      EXPECT_EQ(cut.keep_bytes, first);
    } else {
      EXPECT_EQ(cut.records, 2u);
      EXPECT_EQ(cut.keep_bytes, batch.size());
    }
  }
}

// A log made of such batches, each saying how far the log was durable, scans clean.
TEST(LogBatch, BatchesFollowingEachOtherScanClean) {
  const auto header = encode_file_header(1);
  std::string log(header.data(), header.size());
  LogBatch batch;
  std::uint64_t sequence = 1;
  for (int b = 0; b < 5; ++b) {
    std::vector<std::string> values;
    std::vector<Record> records;
    for (int i = 0; i <= b; ++i) values.push_back(std::string(static_cast<std::size_t>(300 * i), 'v'));
    for (const std::string& value : values) records.push_back(put_record(sequence++, "k", value, 1, 1, ""));
    ASSERT_TRUE(batch.build(log.size(), records, RecordLimits{}));
    log += joined(batch);
  }
  const ScanResult result = scan_log(log);
  EXPECT_EQ(result.verdict, ScanVerdict::kClean);
  EXPECT_EQ(result.batches, 5u);
  EXPECT_EQ(result.records, 15u);
}

TEST(LogBatch, RefusesWhatCannotBeEncoded) {
  LogBatch batch;
  EXPECT_FALSE(batch.build(0, {}, RecordLimits{}));
  const std::vector<Record> too_big{put_record(1, "k", std::string(200, 'v'), 0, 0, "")};
  EXPECT_FALSE(batch.build(0, too_big, RecordLimits{100}));
  EXPECT_TRUE(batch.pieces().empty());
  EXPECT_EQ(batch.size(), 0u);
}

}  // namespace
}  // namespace durable
