// The snapshotter: nothing below the threshold, a snapshot past it that leaves only the segments after it,
// its metrics and log line; SNAPSHOT_RATIO 0 never; a failed attempt counted and logged; snapshots taken
// again and again while a thread writes, and the directory still recovering what the store holds.
#include "app/snapshotter.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "app/log_test_support.h"
#include "durable/data_directory.h"
#include "durable/recovery.h"
#include "metrics/exposition.h"
#include "support/temp_dir.h"

namespace app {
namespace {

using namespace std::chrono_literals;

// Submits each change to the log, as DurableWrites does (without waiting for the answer).
class Submitting final : public store::Journal, public durable::Completion {
 public:
  explicit Submitting(durable::LogWriter& log) noexcept : log_(log) {}
  bool record(const store::Change& change) noexcept override {
    durable::Record record = change.next != nullptr
                                 ? durable::put_record(0, change.id, change.next->value, change.next->meta.etag,
                                                       change.next->meta.modified, change.next->content_type)
                                 : durable::delete_record(0, change.id);
    base::SharedBytes owner = change.next != nullptr && change.next->block != nullptr ? *change.next->block
                                                                                      : base::SharedBytes();
    return log_.submit(record, std::move(owner), *this).is_ok();
  }
  void logged(std::uint64_t, const base::Status& status) noexcept override {
    (status ? ok : failed).fetch_add(1, std::memory_order_relaxed);
  }
  std::atomic<std::uint64_t> ok{0}, failed{0};

 private:
  durable::LogWriter& log_;
};

template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

class SnapshotterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    durable::LogWriterOptions options;
    options.directory = dir();
    options.policy = durable::FsyncPolicy::kNo;
    auto opened = durable::LogWriter::open(fs_, queue_, options);
    ASSERT_TRUE(opened) << opened.status().message();
    log_ = std::move(*opened);
    journal_ = std::make_unique<Submitting>(*log_);
  }
  void TearDown() override {
    if (snapshotter_) snapshotter_->stop();
    if (log_) (void)log_->close();
  }
  std::string dir() const { return dir_.path().string(); }

  void start(std::uint64_t min_bytes, double ratio, base::MemoryAccount* budget = nullptr) {
    SnapshotterOptions options;
    options.directory = dir();
    options.min_bytes = min_bytes;
    options.ratio = ratio;
    options.interval = 1h;  // only wake() makes it look: every check in these tests is one the test asked for
    options.retry_after = 0ms;
    snapshotter_ = std::make_unique<Snapshotter>(fs_, *log_, store_, budget != nullptr ? *budget : queue_, *logger_,
                                                 options);
    ASSERT_TRUE(snapshotter_->start());
    // It checks once as it starts; the tests' own checks come after that one.
    ASSERT_TRUE(eventually([&] { return snapshotter_->stats().checks >= 1; }));
  }
  // Wakes the thread and waits until it has looked.
  SnapshotterStats check() {
    const std::uint64_t before = snapshotter_->stats().checks;
    snapshotter_->wake();
    EXPECT_TRUE(eventually([&] { return snapshotter_->stats().checks > before; }));
    return snapshotter_->stats();
  }
  void put(const std::string& id, std::size_t size, int version) {
    const std::string value(size, static_cast<char>('a' + version % 26));
    const auto outcome = store_.put(id, value, "text/plain", 1'700'000'000 + version, nullptr, journal_.get());
    ASSERT_TRUE(outcome.result == store::PutResult::kCreated || outcome.result == store::PutResult::kReplaced);
  }
  // What was logged: the snapshotter goes, then the logger, which writes out its queue.
  std::string lines() {
    snapshotter_.reset();
    logger_.reset();
    return pipe_.drain();
  }
  std::string scrape() const {
    std::string text;
    metrics::TextWriter out(text);
    SnapshotMetrics(snapshotter_.get()).collect(out);
    return text;
  }
  std::map<std::string, std::string> recovered() {
    struct Sink final : durable::ReplaySink {
      base::Status apply(const durable::Record& r) noexcept override {
        if (r.operation == durable::Operation::kPut) {
          objects[std::string(r.id)] = std::string(r.value);
        } else {
          objects.erase(std::string(r.id));
        }
        return base::Status::ok();
      }
      std::map<std::string, std::string> objects;
    } sink;
    durable::RecoveryOptions options;
    options.directory = dir();
    auto report = durable::recover(fs_, options, sink);
    EXPECT_TRUE(report) << report.status().message();
    return sink.objects;
  }
  std::map<std::string, std::string> stored() {
    std::map<std::string, std::string> objects;
    struct Copy final : store::ShardVisitor {
      bool visit(std::string_view id, const store::ObjectView& object) noexcept override {
        (*objects)[std::string(id)] = std::string(object.value);
        return true;
      }
      std::map<std::string, std::string>* objects;
    } copy;
    copy.objects = &objects;
    for (std::size_t shard = 0; shard < store_.shard_count(); ++shard) (void)store_.visit_shard(shard, copy);
    return objects;
  }

  test_support::TempDir dir_{"storage_api_snapshotter"};
  durable::PosixFileSystem fs_;
  base::MemoryAccount queue_{std::size_t{64} << 20};
  store::BucketStore store_{std::size_t{256} << 20, base::HashKey{9, 10}, 8};
  log_test::Pipe pipe_;
  std::unique_ptr<Logger> logger_ = std::make_unique<Logger>(LogLevel::kInfo, pipe_.write_end);
  std::unique_ptr<durable::LogWriter> log_;
  std::unique_ptr<Submitting> journal_;
  std::unique_ptr<Snapshotter> snapshotter_;
};

TEST_F(SnapshotterTest, ASnapshotPastTheThresholdLeavesOnlyTheSegmentsAfterIt) {
  start(64 << 10, 1);
  for (int i = 0; i < 20; ++i) put("id-" + std::to_string(i), 1000, i);
  ASSERT_TRUE(eventually([&] { return journal_->ok.load() == 20; }));
  SnapshotterStats stats = check();
  EXPECT_EQ(stats.ok, 0u) << "below SNAPSHOT_MIN_BYTES";
  EXPECT_GT(stats.log_bytes_since, 20'000u);
  EXPECT_EQ(snapshotter_->threshold(), std::max<std::uint64_t>(64 << 10, store_.stored_bytes()));
  ASSERT_TRUE(log_->rotate());  // a second segment for the snapshot to delete
  for (int round = 1; snapshotter_->log_bytes_since_snapshot() <= snapshotter_->threshold(); ++round) {
    for (int i = 0; i < 20; ++i) put("id-" + std::to_string(i), 1000 + round, round * 20 + i);
    ASSERT_TRUE(eventually([&] { return journal_->ok.load() == 20u * (round + 1); }));
  }
  stats = check();
  ASSERT_EQ(stats.ok, 1u);
  EXPECT_EQ(stats.failed + stats.discarded, 0u);
  EXPECT_EQ(stats.last_objects, 20u);
  EXPECT_LT(stats.log_bytes_since, 4096u) << "the snapshot holds what the log held";
  auto listing = durable::list_data_directory(fs_, dir());
  ASSERT_TRUE(listing);
  EXPECT_EQ(listing->segments, (std::vector<std::uint64_t>{3, 4}));
  EXPECT_EQ(listing->snapshots, (std::vector<std::uint64_t>{3}));
  auto size = fs_.file_size(dir() + "/snapshot-00000000000000000003.snap");
  ASSERT_TRUE(size);
  EXPECT_EQ(stats.last_bytes, *size);

  const std::string metrics = scrape();
  EXPECT_NE(metrics.find("storage_api_snapshots_total{result=\"ok\"} 1\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("storage_api_snapshots_total{result=\"failed\"} 0\n"), std::string::npos);
  EXPECT_NE(metrics.find("storage_api_snapshot_bytes " + std::to_string(*size) + "\n"), std::string::npos) << metrics;
  EXPECT_EQ(metrics.find("storage_api_snapshot_last_success_timestamp_seconds 0\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("storage_api_log_bytes_since_snapshot "), std::string::npos);
  EXPECT_NE(metrics.find("storage_api_snapshot_duration_seconds "), std::string::npos);

  // Below the threshold again: no second snapshot.
  EXPECT_EQ(check().ok, 1u);
  snapshotter_->stop();
  ASSERT_TRUE(log_->close());
  EXPECT_EQ(recovered(), stored());
  const std::string logged = lines();
  EXPECT_NE(logged.find("\"event\":\"snapshot\""), std::string::npos) << logged;
  EXPECT_NE(logged.find("\"objects\":20"), std::string::npos) << logged;
  EXPECT_NE(logged.find("\"segments_deleted\":2"), std::string::npos) << logged;
}

TEST_F(SnapshotterTest, ARatioOfZeroNeverSnapshots) {
  start(0, 0);
  for (int i = 0; i < 50; ++i) put("id-" + std::to_string(i), 3000, i);
  EXPECT_EQ(snapshotter_->threshold(), UINT64_MAX);
  EXPECT_EQ(check().ok, 0u);
  auto listing = durable::list_data_directory(fs_, dir());
  ASSERT_TRUE(listing);
  EXPECT_TRUE(listing->snapshots.empty());
}

TEST_F(SnapshotterTest, AFailedAttemptIsCountedLoggedAndTriedAgain) {
  base::MemoryAccount tiny(4096);  // not even the write buffer fits
  start(0, 0.001, &tiny);
  put("id", 100, 1);
  ASSERT_TRUE(eventually([&] { return journal_->ok.load() == 1; }));
  EXPECT_EQ(check().failed, 1u);
  EXPECT_EQ(check().failed, 2u) << "tried again (retry_after is 0 here)";
  EXPECT_NE(scrape().find("storage_api_snapshots_total{result=\"failed\"} 2\n"), std::string::npos) << scrape();
  auto listing = durable::list_data_directory(fs_, dir());
  ASSERT_TRUE(listing);
  EXPECT_TRUE(listing->snapshots.empty());
  EXPECT_TRUE(listing->temp_snapshots.empty());
  const std::string logged = lines();
  EXPECT_NE(logged.find("\"event\":\"snapshot_failed\""), std::string::npos) << logged;
}

TEST_F(SnapshotterTest, SnapshotsTakenWhileAThreadWritesRecoverWhatTheStoreHolds) {
  start(0, 0.01);
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    std::uint64_t submitted = 0;
    for (int i = 0; !stop.load(); ++i) {
      const std::string id = "id-" + std::to_string(i % 64);
      bool accepted = false;
      if (i % 7 == 6) {
        accepted = store_.erase(id, nullptr, journal_.get()) == store::EraseResult::kErased;
      } else {
        const std::string value(i % 5 == 0 ? 9000 : 200, static_cast<char>('a' + i % 26));
        const auto result = store_.put(id, value, "text/plain", i, nullptr, journal_.get()).result;
        accepted = result == store::PutResult::kCreated || result == store::PutResult::kReplaced;
      }
      submitted += accepted ? 1 : 0;
      // At most a few hundred records in flight, as a bounded number of connections would keep.
      while (!stop.load() && submitted > journal_->ok.load() + journal_->failed.load() + 256) std::this_thread::yield();
    }
  });
  // Each check takes a snapshot once the writer has added to the log since the last one.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  SnapshotterStats stats;
  while (stats.ok < 5 && stats.failed == 0 && std::chrono::steady_clock::now() < deadline) stats = check();
  stop.store(true);
  writer.join();
  EXPECT_GE(stats.ok, 5u);
  EXPECT_EQ(stats.failed, 0u);
  snapshotter_->stop();
  ASSERT_TRUE(log_->close());  // FSYNC=no: everything submitted is written by now
  EXPECT_EQ(journal_->failed.load(), 0u);
  EXPECT_EQ(recovered(), stored());
}

}  // namespace
}  // namespace app
