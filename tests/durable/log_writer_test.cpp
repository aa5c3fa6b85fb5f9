#include "durable/log_writer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "log_writer_harness.h"
#include "metrics/histogram.h"
#include "net/event_loop.h"

namespace durable::test {
namespace {

using namespace std::chrono_literals;

std::vector<std::uint64_t> sequences(const std::vector<Logged>& logged) {
  std::vector<std::uint64_t> out;
  for (const Logged& l : logged) out.push_back(l.sequence);
  return out;
}

std::vector<std::uint64_t> range(std::uint64_t first, std::uint64_t count) {
  std::vector<std::uint64_t> out;
  for (std::uint64_t i = 0; i < count; ++i) out.push_back(first + i);
  return out;
}

// While one batch's fdatasync runs, what is submitted queues, and goes to the disk in the next batch with
// one write and one sync; nothing is acknowledged before the sync that covers it.
TEST_F(LogWriterTest, GroupCommitBatchesWhatArrivesDuringASync) {
  auto writer = open(FsyncPolicy::kAlways);
  ASSERT_TRUE(writer);
  const std::uint64_t appends_at_open = fs_.calls(FaultOp::kAppend);
  const std::uint64_t syncs_at_open = fs_.calls(FaultOp::kSyncData);

  fs_.close_sync_gate();
  const Submission first = Submission::put("first", 1024);
  ASSERT_TRUE(submit(*writer, first, recorder_));
  ASSERT_TRUE(fs_.wait_for_syncs_at_gate(1, kPatience));
  std::vector<Submission> queued;
  for (int i = 0; i < 10; ++i) queued.push_back(Submission::put("queued-" + std::to_string(i), 1024));
  for (const Submission& s : queued) ASSERT_TRUE(submit(*writer, s, recorder_));
  EXPECT_EQ(recorder_.count(), 0u);  // the first one's sync has not returned
  EXPECT_EQ(fs_.calls(FaultOp::kAppend), appends_at_open + 1);

  fs_.open_sync_gate();
  ASSERT_TRUE(recorder_.wait_for(11));
  EXPECT_EQ(fs_.calls(FaultOp::kAppend), appends_at_open + 2);
  EXPECT_EQ(fs_.calls(FaultOp::kSyncData), syncs_at_open + 2);
  const auto logged = recorder_.logged();
  EXPECT_EQ(sequences(logged), range(1, 11));
  for (const Logged& l : logged) EXPECT_TRUE(l.ok);
  const LogWriterStats stats = writer->stats();
  EXPECT_EQ(stats.batches, 2u);
  EXPECT_EQ(stats.records_written, 11u);
  EXPECT_EQ(stats.max_batch_records, 10u);
  EXPECT_EQ(stats.batch_records[0], 1u);  // 1 record
  EXPECT_EQ(stats.batch_records[3], 1u);  // 8 to 15
  EXPECT_EQ(stats.syncs, 2u);
  EXPECT_EQ(stats.durable_sequence, 11u);

  // Acknowledged means synced: all of it survives the power cut.
  const Recovered recovered = crash(writer);
  ASSERT_EQ(recovered.segments.size(), 1u);
  EXPECT_EQ(recovered.segments[0].verdict, ScanVerdict::kClean);
  ASSERT_EQ(recovered.records.size(), 11u);
  EXPECT_EQ(recovered.records[0].value, first.record.value);
  for (std::size_t i = 0; i < queued.size(); ++i) {
    OwnedRecord expected = queued[i].record;
    expected.sequence = i + 2;
    EXPECT_EQ(recovered.records[i + 1], expected);
  }
}

// Several threads submitting at once: every record is logged once, completions come in sequence order, and
// the log holds exactly the records, in that order.
// Records submitted quietly (as an event loop submits a batch of events' writes) are taken once wake() is
// called, together; a record submitted the usual way after quiet ones wakes the thread for all of them.
TEST_F(LogWriterTest, QuietSubmissionsAreTakenTogetherOnceWoken) {
  auto writer = open(FsyncPolicy::kAlways);
  ASSERT_TRUE(writer);
  const std::uint64_t batches_at_open = writer->stats().batches;
  std::vector<Submission> quiet;
  for (int i = 0; i < 64; ++i) quiet.push_back(Submission::put("quiet-" + std::to_string(i), 100));
  for (const Submission& s : quiet) ASSERT_TRUE(writer->submit(s.view(), s.value, recorder_, LogWriter::Wake::kLater));
  writer->wake();
  ASSERT_TRUE(recorder_.wait_for(64));
  EXPECT_EQ(sequences(recorder_.logged()), range(1, 64));
  // One batch, or two should the thread have woken spuriously while they were queued: never one per record.
  EXPECT_LE(writer->stats().batches - batches_at_open, 2u);

  const Submission later = Submission::put("later", 100);
  const Submission now = Submission::put("now", 100);
  ASSERT_TRUE(writer->submit(later.view(), later.value, recorder_, LogWriter::Wake::kLater));
  ASSERT_TRUE(submit(*writer, now, recorder_));  // wakes the thread for both
  ASSERT_TRUE(recorder_.wait_for(66));
  writer->wake();  // nothing quiet is left: harmless
  EXPECT_EQ(writer->stats().records_written, 66u);
}

TEST_F(LogWriterTest, ConcurrentSubmittersGetCompletionsInSequenceOrder) {
  auto writer = open(FsyncPolicy::kAlways);
  ASSERT_TRUE(writer);
  constexpr int kThreads = 4;
  constexpr int kEach = 300;
  std::mutex mutex;
  std::map<std::uint64_t, OwnedRecord> submitted;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      std::uint64_t last = 0;
      for (int i = 0; i < kEach; ++i) {
        const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i % 17);
        const Submission s = rng() % 5 == 0 ? Submission::remove(id)
                                            : Submission::put(id, rng() % 3 == 0 ? 20'000 : rng() % 700,
                                                              static_cast<char>('a' + t));
        const auto sequence = submit(*writer, s, recorder_);
        ASSERT_TRUE(sequence) << sequence.status().message();
        EXPECT_GT(*sequence, last);  // increasing in each submitter's order too
        last = *sequence;
        OwnedRecord record = s.record;
        record.sequence = *sequence;
        const std::lock_guard lock(mutex);
        submitted.emplace(*sequence, std::move(record));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_TRUE(recorder_.wait_for(kThreads * kEach));
  const auto logged = recorder_.logged();
  EXPECT_EQ(sequences(logged), range(1, kThreads * kEach));
  EXPECT_TRUE(std::all_of(logged.begin(), logged.end(), [](const Logged& l) { return l.ok; }));
  ASSERT_TRUE(writer->close());

  const Recovered recovered = recover(real_, dir());
  ASSERT_EQ(recovered.records.size(), submitted.size());
  std::size_t i = 0;
  for (const auto& [sequence, record] : submitted) EXPECT_EQ(recovered.records[i++], record) << sequence;
  const LogWriterStats stats = writer->stats();
  EXPECT_EQ(stats.records_written, submitted.size());
  EXPECT_LE(stats.syncs, stats.batches);
  EXPECT_EQ(budget_.used(), 0u);
}

// everysec: acknowledged once written, synced by the thread's timer about a second later.
TEST_F(LogWriterTest, EverySecondAcknowledgesWrittenRecordsAndSyncsWithinAboutASecond) {
  auto writer = open(FsyncPolicy::kEverySecond);
  ASSERT_TRUE(writer);
  fs_.close_sync_gate();  // a sync would hold everything up
  const auto written_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(submit(*writer, Submission::put("a", 100), recorder_));
  ASSERT_TRUE(recorder_.wait_for(1));
  EXPECT_TRUE(recorder_.logged()[0].ok);
  EXPECT_EQ(writer->stats().durable_sequence, 0u);

  ASSERT_TRUE(fs_.wait_for_syncs_at_gate(1, kPatience)) << "the timer never synced";
  const auto waited = std::chrono::steady_clock::now() - written_at;
  EXPECT_GE(waited, 900ms);  // the timer's, not one per batch
  fs_.open_sync_gate();
  ASSERT_TRUE(eventually([&] { return writer->stats().durable_sequence == 1; }));
  EXPECT_EQ(writer->stats().syncs, 1u);

  const Recovered recovered = crash(writer);
  ASSERT_EQ(recovered.records.size(), 1u);
  EXPECT_EQ(recovered.records[0].id, "a");
}

// no: acknowledged once written and never synced by the writer, but for close().
TEST_F(LogWriterTest, NoSyncPolicyLeavesSyncingToCloseAndTheKernel) {
  auto writer = open(FsyncPolicy::kNo);
  ASSERT_TRUE(writer);
  const std::uint64_t syncs_at_open = fs_.calls(FaultOp::kSyncData);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(submit(*writer, Submission::put("k" + std::to_string(i), 10), recorder_));
  ASSERT_TRUE(recorder_.wait_for(5));
  EXPECT_EQ(fs_.calls(FaultOp::kSyncData), syncs_at_open);
  const Recovered lost = crash(writer);  // acknowledged, and gone: the policy's promise
  EXPECT_TRUE(lost.records.empty());
  EXPECT_FALSE(lost.any_corrupt());
}

TEST_F(LogWriterTest, CloseWritesWhatIsQueuedAndSyncsItUnderEveryPolicy) {
  for (const FsyncPolicy policy : {FsyncPolicy::kAlways, FsyncPolicy::kEverySecond, FsyncPolicy::kNo}) {
    test_support::TempDir dir("storage_api_log_close");
    LogWriterOptions options;
    options.directory = dir.path().string();
    options.policy = policy;
    auto writer = LogWriter::open(fs_, budget_, options);
    ASSERT_TRUE(writer) << writer.status().message();
    Recorder recorder;
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(submit(**writer, Submission::put("k", 300), recorder));
    ASSERT_TRUE((*writer)->close());
    EXPECT_EQ(recorder.count(), 50u);  // close() drained the queue before returning
    const auto refused = submit(**writer, Submission::put("late", 1), recorder);
    EXPECT_FALSE(refused);
    EXPECT_EQ(refused.status().error_number(), ESHUTDOWN);
    ASSERT_TRUE(fs_.drop_unsynced());
    EXPECT_EQ(recover(real_, options.directory).records.size(), 50u);
  }
}

// rotate(): what came before is in the old segment, synced; what comes after in the new one, whose name
// survives a power cut; the new segment knows the next sequence number even while empty.
TEST_F(LogWriterTest, RotateStartsADurableSegmentBetweenSubmissions) {
  auto writer = open(FsyncPolicy::kNo);
  ASSERT_TRUE(writer);
  ASSERT_TRUE(submit(*writer, Submission::put("a", 10), recorder_));
  ASSERT_TRUE(submit(*writer, Submission::remove("a"), recorder_));
  const auto rotation = writer->rotate();
  ASSERT_TRUE(rotation) << rotation.status().message();
  EXPECT_EQ(rotation->segment, 2u);
  EXPECT_EQ(rotation->first_sequence, 3u);
  EXPECT_EQ(writer->stats().segment, 2u);
  EXPECT_EQ(writer->stats().durable_sequence, 2u);  // the old segment was synced, even under `no`

  const auto fresh = real_.read_file(segment_path(dir(), 2));
  ASSERT_TRUE(fresh);
  EXPECT_EQ(scan_log(*fresh).verdict, ScanVerdict::kClean);
  EXPECT_EQ(scan_log(*fresh).next_sequence, 3u);

  ASSERT_TRUE(submit(*writer, Submission::put("b", 10), recorder_));
  ASSERT_TRUE(recorder_.wait_for(3));
  const Recovered recovered = crash(writer);  // `b` was never synced: lost, but both segments stay
  ASSERT_EQ(recovered.numbers, (std::vector<std::uint64_t>{1, 2}));
  EXPECT_EQ(recovered.segments[0].records, 2u);
  EXPECT_EQ(recovered.segments[1].records, 0u);
  EXPECT_EQ(recovered.segments[1].next_sequence, 3u);
  EXPECT_FALSE(recovered.any_corrupt());
}

TEST_F(LogWriterTest, RefusesWhatItCannotLog) {
  auto writer = open(FsyncPolicy::kAlways);
  ASSERT_TRUE(writer);
  const Submission too_long = Submission::put(std::string(kMaxIdBytes + 1, 'i'), 1);
  EXPECT_EQ(submit(*writer, too_long, recorder_).status().error_number(), EINVAL);
  const Submission s = Submission::put("id", 10);
  Record elsewhere = s.view();
  const std::string other(10, 'v');
  elsewhere.value = other;  // not in the owner's bytes
  EXPECT_EQ(writer->submit(elsewhere, s.value, recorder_).status().error_number(), EINVAL);
  const Submission large = Submission::put("large", LogWriter::kMaxCopiedValueBytes + 1);
  EXPECT_EQ(writer->submit(large.view(), base::SharedBytes(), recorder_).status().error_number(), EINVAL);
  EXPECT_EQ(writer->submit(batch_record(1, 0), {}, recorder_).status().error_number(), EINVAL);
  const auto sequence = submit(*writer, Submission::remove("id"), recorder_);
  ASSERT_TRUE(sequence);
  EXPECT_EQ(*sequence, 1u);  // refusals take no sequence number
  ASSERT_TRUE(writer->close());
  EXPECT_EQ(recorder_.count(), 1u);
}

TEST_F(LogWriterTest, OpensOnlyANewSegmentAndNumbersFromTheGivenSequence) {
  LogWriterOptions options;
  options.directory = dir();
  options.segment = 7;
  options.next_sequence = 1000;
  auto writer = LogWriter::open(fs_, budget_, options);
  ASSERT_TRUE(writer);
  const auto sequence = submit(**writer, Submission::put("a", 1), recorder_);
  ASSERT_TRUE(sequence);
  EXPECT_EQ(*sequence, 1000u);
  ASSERT_TRUE((*writer)->close());
  const auto again = LogWriter::open(fs_, budget_, options);  // segment 7 exists
  ASSERT_FALSE(again);
  EXPECT_EQ(again.status().error_number(), EEXIST);
}

// The intended use: each completion posts to the submitter's event loop, which sees them in order.
TEST_F(LogWriterTest, CompletionsCanBeHandedToAnEventLoop) {
  auto loop = net::EventLoop::create();
  ASSERT_TRUE(loop);
  constexpr std::uint64_t kRecords = 200;
  std::vector<std::uint64_t> seen;  // the loop thread's
  class ToLoop final : public Completion {
   public:
    ToLoop(net::EventLoop& loop, std::vector<std::uint64_t>& seen) : loop_(loop), seen_(seen) {}
    void logged(std::uint64_t sequence, const base::Status& status) noexcept override {
      const bool ok = status.is_ok();
      try {
        loop_.post([this, sequence, ok] {
          if (ok) seen_.push_back(sequence);
          if (seen_.size() == kRecords) loop_.stop();
        });
      } catch (...) {
      }
    }

   private:
    net::EventLoop& loop_;
    std::vector<std::uint64_t>& seen_;
  } to_loop(**loop, seen);
  std::thread loop_thread([&] { (*loop)->run(); });
  auto writer = open(FsyncPolicy::kAlways);
  ASSERT_TRUE(writer);
  for (std::uint64_t i = 0; i < kRecords; ++i) ASSERT_TRUE(submit(*writer, Submission::put("k", 64), to_loop));
  loop_thread.join();
  EXPECT_EQ(seen, range(1, kRecords));
}

TEST_F(LogWriterTest, SyncDurationsReachTheHistogram) {
  metrics::ShardedHistogram histogram(metrics::default_duration_buckets(), 1, 1);
  LogWriterOptions options;
  options.directory = dir();
  options.sync_seconds = &histogram;
  auto writer = LogWriter::open(fs_, budget_, options);
  ASSERT_TRUE(writer);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(submit(**writer, Submission::put("k", 10), recorder_));
    ASSERT_TRUE(recorder_.wait_for(static_cast<std::size_t>(i) + 1));
  }
  const LogWriterStats stats = (*writer)->stats();
  EXPECT_EQ(histogram.count(0), stats.syncs);
  EXPECT_EQ(stats.syncs, 3u);
  EXPECT_GT(stats.sync_nanoseconds_sum, 0u);
  EXPECT_GE(stats.sync_nanoseconds_sum, stats.sync_nanoseconds_max);
  EXPECT_EQ(stats.bytes_written, 3 * (kBatchRecordBytes + record_size(Submission::put("k", 10).view())));
}

}  // namespace
}  // namespace durable::test
