// The log writer under disk faults and power cuts: failed syncs and writes, a full disk, torn batches, the
// queue budget, and randomised power cuts checked against what was acknowledged.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "durable/log_writer.h"
#include "log_writer_harness.h"

namespace durable::test {
namespace {

std::uint64_t size_of(const Submission& s) { return record_size(s.view()); }

// A failed fdatasync fails its batch and the log: what was queued behind it fails too, later submissions
// are refused, nothing it covered is reported durable, and the sync is not tried again.
TEST_F(LogWriterTest, AFailedSyncFailsItsBatchAndEverythingAfter) {
  auto writer = open(FsyncPolicy::kAlways);
  ASSERT_TRUE(writer);
  ASSERT_TRUE(submit(*writer, Submission::put("kept", 100), recorder_));
  ASSERT_TRUE(recorder_.wait_for(1));

  fs_.close_sync_gate();
  ASSERT_TRUE(submit(*writer, Submission::put("synced-badly", 100), recorder_));
  ASSERT_TRUE(fs_.wait_for_syncs_at_gate(1, kPatience));
  ASSERT_TRUE(submit(*writer, Submission::put("queued-1", 100), recorder_));
  ASSERT_TRUE(submit(*writer, Submission::remove("queued-2"), recorder_));
  fs_.fail_nth(FaultOp::kSyncData, 1, EIO);
  const std::uint64_t syncs = fs_.calls(FaultOp::kSyncData);
  fs_.open_sync_gate();
  ASSERT_TRUE(recorder_.wait_for(4));

  const auto logged = recorder_.logged();
  EXPECT_TRUE(logged[0].ok);
  for (std::size_t i = 1; i < 4; ++i) {
    EXPECT_FALSE(logged[i].ok);
    EXPECT_TRUE(logged[i].failure) << i;
  }
  EXPECT_TRUE(writer->failed());
  const auto later = submit(*writer, Submission::put("later", 1), recorder_);
  ASSERT_FALSE(later);
  EXPECT_TRUE(is_log_failure(later.status()));
  const LogWriterStats stats = writer->stats();
  EXPECT_EQ(stats.sync_errors, 1u);
  EXPECT_EQ(stats.durable_sequence, 1u);
  EXPECT_TRUE(stats.failed);
  EXPECT_EQ(budget_.used(), 0u);

  const base::Status closed = writer->close();
  EXPECT_TRUE(is_log_failure(closed)) << closed.message();
  EXPECT_EQ(fs_.calls(FaultOp::kSyncData), syncs + 1);  // never retried, not even by close()
  EXPECT_EQ(recorder_.count(), 4u);
  ASSERT_TRUE(fs_.drop_unsynced());
  const Recovered recovered = recover(real_, dir());
  ASSERT_EQ(recovered.records.size(), 1u);
  EXPECT_EQ(recovered.records[0].id, "kept");
}

TEST_F(LogWriterTest, AFailedWriteFailsTheLog) {
  auto writer = open(FsyncPolicy::kEverySecond);
  ASSERT_TRUE(writer);
  fs_.fail_nth(FaultOp::kAppend, 1, EIO);
  ASSERT_TRUE(submit(*writer, Submission::put("a", 100), recorder_));
  ASSERT_TRUE(recorder_.wait_for(1));
  EXPECT_TRUE(recorder_.logged()[0].failure);
  EXPECT_EQ(writer->stats().write_errors, 1u);
  EXPECT_TRUE(is_log_failure(submit(*writer, Submission::put("b", 1), recorder_).status()));
}

// A full disk fails the records that did not fit, cuts the file back to the last whole record and goes on.
TEST_F(LogWriterTest, AFullDiskFailsTheRecordsThatDidNotFitAndTheLogGoesOn) {
  const Submission r1 = Submission::put("r1", 1000, '1');
  const Submission r2 = Submission::put("r2", 1000, '2');
  const Submission r3 = Submission::remove("r3");
  // Room for: part of the batch record; the batch record and part of r1; r1 and part of r2; all but r3's end.
  for (const std::uint64_t room : {std::uint64_t{10}, kBatchRecordBytes + 500, kBatchRecordBytes + size_of(r1) + 600,
                                   kBatchRecordBytes + size_of(r1) + size_of(r2) + 3}) {
    SCOPED_TRACE("room " + std::to_string(room));
    test_support::TempDir dir("storage_api_log_full");
    FaultInjectionFileSystem fs(real_);
    LogWriterOptions options;
    options.directory = dir.path().string();
    auto opened = LogWriter::open(fs, budget_, options);
    ASSERT_TRUE(opened);
    LogWriter& writer = **opened;
    Recorder recorder;

    fs.close_sync_gate();  // hold the writer in the first batch's sync while the next batch queues
    ASSERT_TRUE(submit(writer, Submission::put("r0", 10), recorder));
    ASSERT_TRUE(fs.wait_for_syncs_at_gate(1, kPatience));
    for (const Submission* s : {&r1, &r2, &r3}) ASSERT_TRUE(submit(writer, *s, recorder));
    fs.limit_bytes(room);
    fs.open_sync_gate();
    ASSERT_TRUE(recorder.wait_for(4));

    const std::uint64_t fitted = room < kBatchRecordBytes + size_of(r1)                 ? 0
                                 : room < kBatchRecordBytes + size_of(r1) + size_of(r2) ? 1
                                                                                        : 2;
    const auto logged = recorder.logged();
    EXPECT_TRUE(logged[0].ok);
    for (std::size_t i = 1; i < 4; ++i) {
      EXPECT_EQ(logged[i].ok, i <= fitted) << i;
      if (i > fitted) {
        EXPECT_EQ(logged[i].error_number, ENOSPC) << i;
      }
    }
    EXPECT_FALSE(writer.failed());
    EXPECT_EQ(writer.stats().no_space_records, 3 - fitted);
    const Recovered cut = recover(real_, options.directory);
    ASSERT_EQ(cut.segments.size(), 1u);
    EXPECT_EQ(cut.segments[0].verdict, ScanVerdict::kClean) << cut.segments[0].reason;
    EXPECT_EQ(cut.records.size(), 1 + fitted);

    fs.limit_bytes(UINT64_MAX);  // space is back; submit() accepts once the failed completions have returned
    base::Result<std::uint64_t> again = base::Status::error("not submitted", ENOSPC);
    ASSERT_TRUE(eventually([&] {
      again = submit(writer, r3, recorder);
      return !is_no_space(again.status());
    }));
    ASSERT_TRUE(again);
    ASSERT_TRUE(recorder.wait_for(5));
    EXPECT_TRUE(recorder.logged()[4].ok);
    fs.cut_power();
    (void)writer.close();
    ASSERT_TRUE(fs.drop_unsynced());
    const Recovered recovered = recover(real_, options.directory);
    EXPECT_EQ(recovered.segments[0].verdict, ScanVerdict::kClean) << recovered.segments[0].reason;
    ASSERT_EQ(recovered.records.size(), 2 + fitted);
    EXPECT_EQ(recovered.records.back().sequence, *again);
    EXPECT_EQ(recovered.records.back().id, "r3");
  }
}

// When the file cannot be cut back after a full disk, it would not scan: the log fails instead.
TEST_F(LogWriterTest, AFullDiskThatCannotBeCutBackFailsTheLog) {
  auto writer = open(FsyncPolicy::kAlways);
  ASSERT_TRUE(writer);
  fs_.limit_bytes(kBatchRecordBytes + 10);
  fs_.fail_nth(FaultOp::kTruncate, 1, EIO);
  ASSERT_TRUE(submit(*writer, Submission::put("a", 100), recorder_));
  ASSERT_TRUE(recorder_.wait_for(1));
  EXPECT_TRUE(recorder_.logged()[0].failure);
  EXPECT_TRUE(writer->failed());
}

// The power goes while a batch is being synced, and its pages reached the disk out of order: a hole where
// its first page was, its later records intact after it. Recovery sees a torn tail, not corruption.
TEST_F(LogWriterTest, ABatchTornByAPowerCutWithAHoleRecoversAsTorn) {
  auto writer = open(FsyncPolicy::kAlways);
  ASSERT_TRUE(writer);
  ASSERT_TRUE(submit(*writer, Submission::put("synced-0", 3000), recorder_));
  ASSERT_TRUE(recorder_.wait_for(1));

  fs_.close_sync_gate();
  ASSERT_TRUE(submit(*writer, Submission::put("synced-1", 100), recorder_));
  ASSERT_TRUE(fs_.wait_for_syncs_at_gate(1, kPatience));
  std::vector<Submission> torn;
  for (int i = 0; i < 8; ++i) torn.push_back(Submission::put("torn-" + std::to_string(i), 1500));
  for (const Submission& s : torn) ASSERT_TRUE(submit(*writer, s, recorder_));
  fs_.pass_syncs(1);
  ASSERT_TRUE(recorder_.wait_for(2));
  ASSERT_TRUE(fs_.wait_for_syncs_at_gate(1, kPatience));  // the torn batch's sync, never to finish
  const auto written_end = real_.file_size(segment_path(dir(), 1));
  ASSERT_TRUE(written_end);
  const std::uint64_t synced_end = [&] {
    std::uint64_t end = *written_end;
    for (const Submission& s : torn) end -= size_of(s);
    return end - kBatchRecordBytes;
  }();

  constexpr std::uint64_t kPage = FaultInjectionFileSystem::kPageBytes;
  const std::uint64_t lost_page = synced_end / kPage * kPage;
  const Recovered recovered =
      crash(writer, [&](const std::string&, std::uint64_t page) { return page != lost_page; });
  EXPECT_EQ(recorder_.count(), 10u);
  ASSERT_EQ(recovered.segments.size(), 1u);
  const ScanResult& result = recovered.segments[0];
  EXPECT_EQ(result.verdict, ScanVerdict::kTornTail) << result.reason;
  EXPECT_EQ(result.valid_end, synced_end);
  ASSERT_EQ(recovered.records.size(), 2u);
  EXPECT_EQ(recovered.records[1].id, "synced-1");

  // The batch's last record did reach the disk, after the hole: the case a scan without batch records
  // would have refused as corruption.
  const auto bytes = real_.read_file(segment_path(dir(), 1));
  ASSERT_TRUE(bytes);
  const std::size_t last = bytes->size() - static_cast<std::size_t>(size_of(torn.back()));
  ASSERT_GT(last, lost_page + kPage);
  const Decoded survivor = decode_next(*bytes, last);
  ASSERT_EQ(survivor.status, DecodeStatus::kRecord);
  EXPECT_EQ(survivor.record.id, "torn-7");
}

// The queue budget counts records until written; a record over it is refused at once and takes nothing.
TEST_F(LogWriterTest, TheQueueBudgetRefusesRecordsThatDoNotFit) {
  const Submission record = Submission::put("r", 1000);
  base::MemoryAccount budget(static_cast<std::size_t>(size_of(record) * 5 / 2));
  auto writer = open(FsyncPolicy::kAlways, &budget);
  ASSERT_TRUE(writer);
  fs_.close_sync_gate();
  ASSERT_TRUE(submit(*writer, record, recorder_));
  ASSERT_TRUE(fs_.wait_for_syncs_at_gate(1, kPatience));
  EXPECT_EQ(budget.used(), 0u);  // written: no longer queued, though not yet acknowledged
  ASSERT_TRUE(submit(*writer, record, recorder_));
  ASSERT_TRUE(submit(*writer, record, recorder_));
  const auto refused = submit(*writer, record, recorder_);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(is_queue_full(refused.status()));
  EXPECT_EQ(budget.used(), 2 * size_of(record));
  EXPECT_EQ(writer->stats().queue_refusals, 1u);

  fs_.open_sync_gate();
  ASSERT_TRUE(recorder_.wait_for(3));
  EXPECT_EQ(budget.used(), 0u);
  const auto accepted = submit(*writer, record, recorder_);
  ASSERT_TRUE(accepted);
  EXPECT_EQ(*accepted, 4u);
  ASSERT_TRUE(recorder_.wait_for(4));
  EXPECT_EQ(recorder_.count(), 4u);
}

// Many submitters, the power cut at a random write or sync, unsynced pages kept at random: what is
// recovered is a prefix of what was submitted, in sequence order, and holds everything acknowledged
// (FSYNC=always) or everything synced (everysec, with a short interval so that the timer runs).
void run_power_cuts(FileSystem& real, FsyncPolicy policy, int iterations) {
  for (int iteration = 0; iteration < iterations; ++iteration) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(iteration) * 7919 + static_cast<int>(policy));
    SCOPED_TRACE("iteration " + std::to_string(iteration));
    test_support::TempDir dir("storage_api_log_cut");
    FaultInjectionFileSystem fs(real);
    base::MemoryAccount budget(std::size_t{64} << 20);
    LogWriterOptions options;
    options.directory = dir.path().string();
    options.policy = policy;
    options.sync_interval = std::chrono::milliseconds(2);
    auto opened = LogWriter::open(fs, budget, options);
    ASSERT_TRUE(opened);
    LogWriter& writer = **opened;

    // Each submitter keeps a few records in flight, as clients waiting for their answers do, so that the
    // log goes through many batches of varying size before the power goes.
    const int threads = 1 + static_cast<int>(rng() % 4);
    const int each = 20 + static_cast<int>(rng() % 100);
    // At about as many writes as there are batches; under everysec there are few syncs to cut at.
    const bool at_sync = policy == FsyncPolicy::kAlways ? rng() % 2 == 0 : rng() % 4 == 0;
    const int nth = 1 + static_cast<int>(rng() % (at_sync && policy != FsyncPolicy::kAlways ? 3 : 40));
    fs.cut_power_at(at_sync ? FaultOp::kSyncData : FaultOp::kAppend, nth);
    std::mutex mutex;
    std::map<std::uint64_t, OwnedRecord> submitted;
    std::vector<Recorder> recorders(static_cast<std::size_t>(threads));
    std::vector<std::thread> submitters;
    for (int t = 0; t < threads; ++t) {
      submitters.emplace_back([&, t, seed = rng()] {
        std::mt19937_64 local(seed);
        Recorder& recorder = recorders[static_cast<std::size_t>(t)];
        const std::size_t window = 1 + local() % 8;
        for (int i = 0; i < each; ++i) {
          if (static_cast<std::size_t>(i) >= window) {
            ASSERT_TRUE(recorder.wait_for(static_cast<std::size_t>(i) - window));
          }
          const std::string id = "k" + std::to_string(local() % 50);
          const std::size_t bytes = local() % 10 == 0 ? 20'000 : local() % 2000;
          const Submission s =
              local() % 6 == 0 ? Submission::remove(id) : Submission::put(id, bytes, static_cast<char>('a' + i % 26));
          const auto sequence = submit(writer, s, recorder);
          if (!sequence) {
            EXPECT_TRUE(is_log_failure(sequence.status())) << sequence.status().message();
            return;
          }
          OwnedRecord record = s.record;
          record.sequence = *sequence;
          const std::lock_guard lock(mutex);
          submitted.emplace(*sequence, std::move(record));
        }
      });
    }
    for (std::thread& submitter : submitters) submitter.join();
    (void)writer.close();
    const LogWriterStats stats = writer.stats();
    const std::uint64_t seed = rng();
    ASSERT_TRUE(fs.drop_unsynced([&](const std::string& path, std::uint64_t page) {
      return std::hash<std::string>()(path + std::to_string(page) + std::to_string(seed)) % 2 == 0;
    }));

    const Recovered recovered = recover(real, options.directory);
    ASSERT_EQ(recovered.segments.size(), 1u);
    EXPECT_NE(recovered.segments[0].verdict, ScanVerdict::kCorrupt) << recovered.segments[0].reason;
    // A prefix of the submissions, exactly as submitted.
    ASSERT_LE(recovered.records.size(), submitted.size());
    auto expected = submitted.begin();
    for (const OwnedRecord& record : recovered.records) {
      EXPECT_EQ(record, expected->second);
      ++expected;
    }
    const std::uint64_t recovered_through = recovered.records.empty() ? 0 : recovered.records.back().sequence;
    std::uint64_t acknowledged = 0;
    std::size_t completions = 0;
    for (const Recorder& recorder : recorders) {
      for (const Logged& logged : recorder.logged()) {
        if (logged.ok) acknowledged = std::max(acknowledged, logged.sequence);
        ++completions;
      }
    }
    EXPECT_EQ(completions, submitted.size());
    if (policy == FsyncPolicy::kAlways) {
      EXPECT_GE(recovered_through, acknowledged);
      EXPECT_EQ(stats.durable_sequence, acknowledged);
    }
    EXPECT_GE(recovered_through, stats.durable_sequence);
  }
}

TEST_F(LogWriterTest, RandomPowerCutsKeepEverythingAcknowledged) { run_power_cuts(real_, FsyncPolicy::kAlways, 60); }

TEST_F(LogWriterTest, RandomPowerCutsKeepEverythingSyncedUnderEverySecond) {
  run_power_cuts(real_, FsyncPolicy::kEverySecond, 60);
}

}  // namespace
}  // namespace durable::test
