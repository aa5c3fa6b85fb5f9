// Recovery over logs the writer left and logs built byte by byte: replay in order, torn tails truncated
// (power cuts), the writer going on where recovery says, sink and file-system errors.
#include "durable/recovery.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "recovery_harness.h"

namespace durable::test {
namespace {

TEST_F(RecoveryTest, AnAbsentOrEmptyDirectoryReplaysNothing) {
  CollectingSink sink;
  RecoveryOptions options;
  options.directory = dir() + "/absent";
  auto absent = durable::recover(fs_, options, sink);
  ASSERT_TRUE(absent) << absent.status().message();
  EXPECT_EQ(absent->segments, 0u);
  EXPECT_EQ(absent->next_segment, 1u);
  EXPECT_EQ(absent->next_sequence, 1u);

  // Names that are not segments are not the log's.
  write_segment(1, "");
  ASSERT_TRUE(real_.rename(path_of(1), dir() + "/segment-1.log"));
  write_segment(2, "");
  ASSERT_TRUE(real_.rename(path_of(2), dir() + "/LOCK"));
  const RecoveryReport empty = run_ok();
  EXPECT_EQ(empty.segments, 0u);
  EXPECT_EQ(empty.puts + empty.deletes, 0u);
  EXPECT_EQ(empty.next_segment, 1u);
  EXPECT_EQ(empty.next_sequence, 1u);
  EXPECT_FALSE(empty.torn_tail);
  EXPECT_EQ(sink.calls, 0u);
}

// What the writer wrote, over a rotation, comes back exactly and in order, and the writer opened where the
// report says goes on after it: a second recovery replays both.
TEST_F(RecoveryTest, ReplaysTheWritersRecordsInOrderAndTheWriterGoesOnAfterThem) {
  std::vector<Submission> submitted;
  for (int i = 0; i < 30; ++i) {
    submitted.push_back(i % 4 == 3 ? Submission::remove("id-" + std::to_string(i - 1))
                                   : Submission::put("id-" + std::to_string(i), 10 + 97 * i,
                                                     static_cast<char>('a' + i % 26)));
  }
  auto writer = open(FsyncPolicy::kAlways);
  ASSERT_TRUE(writer);
  for (std::size_t i = 0; i < submitted.size(); ++i) {
    ASSERT_TRUE(submit(*writer, submitted[i], recorder_));
    if (i == 11) {
      ASSERT_TRUE(writer->rotate());
    }
  }
  ASSERT_TRUE(writer->close());
  writer.reset();

  std::vector<OwnedRecord> records;
  const RecoveryReport report = run_ok(&records);
  ASSERT_EQ(records.size(), submitted.size());
  std::uint64_t puts = 0;
  for (std::size_t i = 0; i < submitted.size(); ++i) {
    OwnedRecord expected = submitted[i].record;
    expected.sequence = i + 1;
    EXPECT_EQ(records[i], expected) << i;
    puts += expected.operation == Operation::kPut ? 1 : 0;
  }
  EXPECT_EQ(report.segments, 2u);
  EXPECT_EQ(report.puts, puts);
  EXPECT_EQ(report.deletes, submitted.size() - puts);
  EXPECT_EQ(report.bytes, size_of_segment(1) + size_of_segment(2));
  EXPECT_FALSE(report.torn_tail);
  EXPECT_FALSE(report.repair);
  EXPECT_EQ(report.next_segment, 3u);
  EXPECT_EQ(report.next_sequence, submitted.size() + 1);
  EXPECT_GT(report.elapsed.count(), 0);

  LogWriterOptions options;
  options.directory = dir();
  options.segment = report.next_segment;
  options.next_sequence = report.next_sequence;
  auto next = LogWriter::open(fs_, budget_, options);
  ASSERT_TRUE(next) << next.status().message();
  const Submission later = Submission::put("later", 5000);
  Recorder recorder;
  const auto sequence = submit(**next, later, recorder);
  ASSERT_TRUE(sequence);
  EXPECT_EQ(*sequence, report.next_sequence);
  ASSERT_TRUE((*next)->close());

  std::vector<OwnedRecord> again;
  const RecoveryReport second = run_ok(&again);
  ASSERT_EQ(again.size(), submitted.size() + 1);
  EXPECT_TRUE(std::equal(records.begin(), records.end(), again.begin()));
  OwnedRecord expected = later.record;
  expected.sequence = *sequence;
  EXPECT_EQ(again.back(), expected);
  EXPECT_EQ(second.segments, 3u);
  EXPECT_EQ(second.next_segment, 4u);
  EXPECT_EQ(second.next_sequence, *sequence + 1);
}

// The power goes while a large record is being synced, and only its first page reaches the disk: every
// acknowledged record is replayed, the torn rest is cut off, and the file is clean from then on.
TEST_F(RecoveryTest, APowerCutsTornTailIsTruncatedAndTheFileIsCleanAfterwards) {
  auto writer = open(FsyncPolicy::kAlways);
  ASSERT_TRUE(writer);
  std::vector<Submission> acknowledged;
  for (int i = 0; i < 5; ++i) {
    acknowledged.push_back(Submission::put("kept-" + std::to_string(i), 300));
    ASSERT_TRUE(submit(*writer, acknowledged.back(), recorder_));
  }
  ASSERT_TRUE(recorder_.wait_for(5));
  const auto synced_size = real_.file_size(path_of(1));
  ASSERT_TRUE(synced_size);
  fs_.close_sync_gate();
  ASSERT_TRUE(submit(*writer, Submission::put("torn", 3 * FaultInjectionFileSystem::kPageBytes), recorder_));
  ASSERT_TRUE(fs_.wait_for_syncs_at_gate(1, kPatience));
  fs_.cut_power();
  fs_.open_sync_gate();
  (void)writer->close();
  writer.reset();
  for (const Logged& logged : recorder_.logged()) EXPECT_EQ(logged.ok, logged.sequence <= 5) << logged.sequence;
  const std::uint64_t first_page = *synced_size / FaultInjectionFileSystem::kPageBytes;
  ASSERT_TRUE(fs_.drop_unsynced([&](const std::string&, std::uint64_t page) {
    return page / FaultInjectionFileSystem::kPageBytes == first_page;
  }));
  const std::uint64_t crashed_size = size_of_segment(1);
  ASSERT_GT(crashed_size, *synced_size);

  std::vector<OwnedRecord> records;
  const RecoveryReport report = run_ok(&records);
  ASSERT_EQ(records.size(), acknowledged.size());
  for (std::size_t i = 0; i < records.size(); ++i) EXPECT_EQ(records[i].id, acknowledged[i].record.id);
  ASSERT_TRUE(report.torn_tail);
  EXPECT_EQ(report.torn_tail->file, path_of(1));
  EXPECT_FALSE(report.torn_tail->removed);
  // The torn batch's batch record reached the disk with the first page: the cut comes after it.
  EXPECT_EQ(report.torn_tail->offset, *synced_size + kBatchRecordBytes);
  EXPECT_EQ(report.torn_tail->dropped_bytes, crashed_size - report.torn_tail->offset);
  EXPECT_EQ(size_of_segment(1), report.torn_tail->offset);
  EXPECT_EQ(report.next_segment, 2u);
  EXPECT_EQ(report.next_sequence, 6u);  // the torn batch's record says 6 was to come next

  // A power cut now changes nothing.
  fs_.cut_power();
  ASSERT_TRUE(fs_.drop_unsynced());
  std::vector<OwnedRecord> again;
  const RecoveryReport second = run_ok(&again);
  EXPECT_FALSE(second.torn_tail);
  EXPECT_EQ(again, records);
  EXPECT_EQ(second.bytes, report.torn_tail->offset);
}

// The power cut at a random write or sync of a writer under FSYNC=always with pages kept at random:
// recovery replays a prefix of the submissions holding every acknowledged one, a second recovery finds the
// log clean and the same, and a writer opened where the report says appends after it.
TEST_F(RecoveryTest, RandomPowerCutsReplayEverythingAcknowledged) {
  int torn = 0;
  for (int iteration = 0; iteration < 40; ++iteration) {
    SCOPED_TRACE("iteration " + std::to_string(iteration));
    std::mt19937_64 rng(static_cast<std::uint64_t>(iteration) * 104729 + 17);
    test_support::TempDir dir("storage_api_recovery_cut");
    FaultInjectionFileSystem fs(real_);
    LogWriterOptions options;
    options.directory = dir.path().string();
    auto opened = LogWriter::open(fs, budget_, options);
    ASSERT_TRUE(opened);
    const bool at_sync = rng() % 2 == 0;
    fs.cut_power_at(at_sync ? FaultOp::kSyncData : FaultOp::kAppend, 1 + static_cast<int>(rng() % 25));
    Recorder recorder;
    std::vector<OwnedRecord> submitted;
    const std::size_t window = 1 + rng() % 6;
    for (std::size_t i = 0; i < 60; ++i) {
      if (i >= window) {
        ASSERT_TRUE(recorder.wait_for(i - window));
      }
      const std::string id = "k" + std::to_string(rng() % 20);
      const Submission s = rng() % 5 == 0 ? Submission::remove(id) : Submission::put(id, rng() % 9000);
      const auto sequence = submit(**opened, s, recorder);
      if (!sequence) break;
      submitted.push_back(s.record);
      submitted.back().sequence = *sequence;
    }
    (void)(*opened)->close();
    opened->reset();
    const std::uint64_t seed = rng();
    ASSERT_TRUE(fs.drop_unsynced([&](const std::string& path, std::uint64_t page) {
      return std::hash<std::string>()(path + std::to_string(page) + std::to_string(seed)) % 2 == 0;
    }));

    RecoveryOptions recovery;
    recovery.directory = options.directory;
    CollectingSink sink;
    auto report = durable::recover(fs, recovery, sink);
    ASSERT_TRUE(report) << report.status().message();
    ASSERT_LE(sink.records.size(), submitted.size());
    for (std::size_t i = 0; i < sink.records.size(); ++i) EXPECT_EQ(sink.records[i], submitted[i]) << i;
    std::uint64_t acknowledged = 0;
    for (const Logged& logged : recorder.logged()) {
      if (logged.ok) acknowledged = std::max(acknowledged, logged.sequence);
    }
    EXPECT_GE(sink.records.empty() ? 0 : sink.records.back().sequence, acknowledged);
    if (report->torn_tail) ++torn;

    CollectingSink again;
    auto second = durable::recover(fs, recovery, again);
    ASSERT_TRUE(second) << second.status().message();
    EXPECT_FALSE(second->torn_tail);
    EXPECT_EQ(again.records, sink.records);
    EXPECT_EQ(second->next_sequence, report->next_sequence);

    options.segment = report->next_segment;
    options.next_sequence = report->next_sequence;
    auto next = LogWriter::open(fs, budget_, options);
    ASSERT_TRUE(next) << next.status().message();
    Recorder next_recorder;
    ASSERT_TRUE(submit(**next, Submission::put("after", 10), next_recorder));
    ASSERT_TRUE((*next)->close());
    CollectingSink third;
    ASSERT_TRUE(durable::recover(fs, recovery, third));
    ASSERT_EQ(third.records.size(), sink.records.size() + 1);
    EXPECT_EQ(third.records.back().id, "after");
  }
  EXPECT_GT(torn, 0);  // the torn-tail path was taken
}

// The crash came between creating the last segment and syncing it: it holds no good record and goes, its
// number reused.
TEST_F(RecoveryTest, ALastSegmentWithNoGoodRecordIsRemoved) {
  const Log first = batched_segment(1, 1, 4);
  write_segment(1, first.bytes);
  const auto header = encode_file_header(2);
  for (const std::size_t length : {std::size_t{0}, std::size_t{10}, kFileHeaderBytes + 5}) {
    SCOPED_TRACE("length " + std::to_string(length));
    std::string torn(header.data(), header.size());
    torn.append(kBatchRecordBytes, '\x55');
    torn.resize(length);
    write_segment(2, torn);
    std::vector<OwnedRecord> records;
    const RecoveryReport report = run_ok(&records);
    EXPECT_EQ(records, data_records(first));
    ASSERT_TRUE(report.torn_tail);
    EXPECT_TRUE(report.torn_tail->removed);
    EXPECT_EQ(report.torn_tail->file, path_of(2));
    EXPECT_EQ(report.torn_tail->offset, 0u);
    EXPECT_EQ(report.torn_tail->dropped_bytes, length);
    EXPECT_FALSE(exists(2));
    EXPECT_EQ(report.next_segment, 2u);
    EXPECT_EQ(report.next_sequence, 5u);
  }
  LogWriterOptions options;
  options.directory = dir();
  options.segment = 2;
  options.next_sequence = 5;
  auto writer = LogWriter::open(fs_, budget_, options);
  ASSERT_TRUE(writer) << writer.status().message();
}

TEST_F(RecoveryTest, TheSinksErrorStopsRecoveryAndIsReturned) {
  write_segment(1, batched_segment(1, 1, 5).bytes);
  write_segment(2, batched_segment(2, 6, 5).bytes);
  CollectingSink sink;
  sink.fail_at = 3;
  auto failed = run(sink);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.status().message(), "memory cap of 1 KiB exceeded");
  EXPECT_EQ(failed.status().error_number(), ENOMEM);
  EXPECT_EQ(sink.calls, 3u);  // nothing after the refusal
  EXPECT_FALSE(is_log_damaged(failed.status()));
}

TEST_F(RecoveryTest, FileSystemErrorsAreReturned) {
  write_segment(1, batched_segment(1, 1, 3).bytes);
  fs_.fail_nth(FaultOp::kMapFile, 1, EIO);
  CollectingSink sink;
  auto unmapped = run(sink);
  ASSERT_FALSE(unmapped);
  EXPECT_EQ(unmapped.status().error_number(), EIO);
  EXPECT_TRUE(contains(unmapped.status().message(), path_of(1))) << unmapped.status().message();

  std::string torn = batched_segment(1, 1, 3).bytes;
  torn.resize(torn.size() - 1);
  ASSERT_TRUE(real_.truncate(path_of(1), torn.size()));
  fs_.fail_nth(FaultOp::kTruncate, 1, EIO);
  CollectingSink again;
  auto uncut = run(again);
  ASSERT_FALSE(uncut);
  EXPECT_EQ(uncut.status().error_number(), EIO);
  EXPECT_EQ(size_of_segment(1), torn.size());
  fs_.fail_nth(FaultOp::kSync, 1, EIO);
  CollectingSink third;
  auto unsynced = run(third);
  ASSERT_FALSE(unsynced);
  EXPECT_EQ(unsynced.status().error_number(), EIO);
}

}  // namespace
}  // namespace durable::test
