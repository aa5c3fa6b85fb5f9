// A power cut at every step of a snapshot — each create, append, sync, rename, directory sync and unlink in
// turn, the log's own and the snapshot's, with writes going on between the parts of the capture — recovers
// exactly the acknowledged data; then the same with a writer thread racing the snapshot and the cut at a
// random call.
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "durable/data_directory.h"
#include "snapshot_harness.h"

namespace durable::test {
namespace {

constexpr std::size_t kShards = 6;

// After each part is captured, one write that waits for its answer: so that the changes land in parts
// captured already and parts still to come, in a repeatable order of file-system calls.
class InterleavingSource final : public SnapshotSource {
 public:
  explicit InterleavingSource(JournaledStore& data) : data_(data), inner_(data.store()) {}
  std::size_t parts() const noexcept override { return inner_.parts(); }
  bool capture(std::size_t part, SnapshotCapture& out) noexcept override {
    const bool whole = inner_.capture(part, out);
    const std::string id = "id-" + std::to_string(part);
    switch (part % 3) {
      case 0:
        (void)data_.put("new-" + std::to_string(part), value_of(50 + part, static_cast<int>(part)));
        break;
      case 1:
        (void)data_.erase(id);
        break;
      default:
        (void)data_.put(id, value_of(6000 + part, 1000 + static_cast<int>(part)));
        break;
    }
    return whole;
  }

 private:
  JournaledStore& data_;
  StoreSnapshotSource inner_;
};

struct Trial {
  bool completed = false;  // the snapshot was written whole, the power never cut
  bool loaded_new_snapshot = false;
  std::uint64_t leftovers_removed = 0;
};

struct Directory {
  test_support::TempDir dir{"storage_api_snapshot_crash"};
  PosixFileSystem real;
  FaultInjectionFileSystem fs{real};
  base::MemoryAccount budget{std::size_t{64} << 20};
  std::unique_ptr<LogWriter> writer;
  JournaledStore data{nullptr, kShards};

  std::string path() const { return dir.path().string(); }
  void open() {
    LogWriterOptions options;
    options.directory = path();
    auto opened = LogWriter::open(fs, budget, options);
    ASSERT_TRUE(opened) << opened.status().message();
    writer = std::move(*opened);
    data.attach(writer.get());
  }
  base::Result<SnapshotReport> snapshot(SnapshotSource& source) {
    SnapshotOptions options;
    options.directory = path();
    options.sync_every_bytes = 8 << 10;  // the periodic sync is a step too
    return write_snapshot(fs, *writer, source, budget, options);
  }
  // History: two segments, a snapshot of them, and writes after it.
  void prepare() {
    ASSERT_NO_FATAL_FAILURE(open());
    for (int i = 0; i < 8; ++i) {
      ASSERT_TRUE(data.put("id-" + std::to_string(i), value_of(i % 3 == 0 ? 4000 : 30, i), i % 2 ? "a/b" : ""));
    }
    ASSERT_TRUE(writer->rotate());
    ASSERT_TRUE(data.erase("id-7"));
    StoreSnapshotSource plain(data.store());
    auto first = snapshot(plain);
    ASSERT_TRUE(first && first->outcome == SnapshotOutcome::kWritten);
    ASSERT_TRUE(data.put("id-1", "after the first snapshot"));
  }
  // The power goes; what the disk kept is recovered, and must be what was acknowledged.
  Trial crash_and_recover() {
    Trial trial;
    fs.cut_power();
    (void)writer->close();
    writer.reset();
    const base::Status dropped = fs.drop_unsynced();
    EXPECT_TRUE(dropped) << dropped.message();
    RecoveryOptions options;
    options.directory = path();
    ModelSink sink;
    auto report = durable::recover(real, options, sink);
    EXPECT_TRUE(report) << report.status().message();
    if (!report) return trial;
    EXPECT_EQ(sink.model, data.acknowledged()) << "recovered " << describe(sink.model) << "\nacknowledged "
                                               << describe(data.acknowledged());
    EXPECT_EQ(sink.bad_etags, 0u);
    trial.loaded_new_snapshot = report->snapshot && report->snapshot->segment > 3;
    trial.leftovers_removed = report->covered_segments_removed + report->covered_snapshots_removed;
    // Recovery left a directory that recovers the same again, with nothing more to clean.
    ModelSink again;
    auto second = durable::recover(real, options, again);
    EXPECT_TRUE(second) << second.status().message();
    if (second) {
      EXPECT_EQ(again.model, sink.model);
      EXPECT_EQ(second->covered_segments_removed + second->covered_snapshots_removed + second->temp_files_removed, 0u);
    }
    auto listing = list_data_directory(real, path());
    EXPECT_TRUE(listing && listing->snapshots.size() <= 1 && listing->temp_snapshots.empty());
    return trial;
  }
};

Trial cut_at(FaultOp op, int n) {
  Directory d;
  d.prepare();
  if (::testing::Test::HasFatalFailure()) return {};
  d.fs.cut_power_at(op, n);
  InterleavingSource source(d.data);
  auto report = d.snapshot(source);
  const bool cut = d.fs.power_is_cut();
  EXPECT_TRUE(report || cut) << report.status().message();
  const bool completed = report && report->outcome == SnapshotOutcome::kWritten && report->cleanup && !cut;
  Trial trial = d.crash_and_recover();
  trial.completed = completed;
  return trial;
}

TEST(SnapshotCrashTest, APowerCutAtEveryStepRecoversExactlyTheAcknowledgedData) {
  const FaultOp ops[] = {FaultOp::kOpenAppend, FaultOp::kAppend, FaultOp::kSyncData, FaultOp::kSync,
                         FaultOp::kRename,     FaultOp::kUnlink, FaultOp::kSyncDirectory};
  int trials = 0, loaded_new = 0, with_leftovers = 0;
  for (const FaultOp op : ops) {
    for (int n = 1;; ++n) {
      SCOPED_TRACE("power cut at call " + std::to_string(n) + " of op " + std::to_string(static_cast<int>(op)));
      const Trial trial = cut_at(op, n);
      if (HasFailure()) return;
      ++trials;
      loaded_new += trial.loaded_new_snapshot ? 1 : 0;
      with_leftovers += trial.leftovers_removed > 0 ? 1 : 0;
      if (trial.completed) break;
      ASSERT_LT(n, 200) << "the snapshot never completed";
    }
  }
  // Both sides of the rename were reached: cuts before it recover the old snapshot and the log, cuts after
  // it the new one, and those between the rename and the unlinks leave files that recovery removes.
  EXPECT_GT(trials, 40);
  EXPECT_GT(loaded_new, 0);
  EXPECT_GT(with_leftovers, 0);
}

TEST(SnapshotCrashTest, APowerCutWhileAWriterRacesTheSnapshotLosesNothingAcknowledged) {
  std::mt19937 random(20240611);
  for (int round = 0; round < 16; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    Directory d;
    d.prepare();
    if (HasFatalFailure()) return;
    std::atomic<bool> stop{false};
    std::thread writer([&] {
      std::mt19937 own(static_cast<unsigned>(round));
      for (int i = 0; !stop.load(); ++i) {
        const std::string id = "race-" + std::to_string(own() % 12);
        const bool ok = own() % 4 == 0 ? d.data.erase(id)
                                       : d.data.put(id, value_of(own() % 2 ? 3000 : 20, i));
        if (!ok && d.fs.power_is_cut()) return;
      }
    });
    const FaultOp op = random() % 2 ? FaultOp::kAppend : FaultOp::kSyncData;
    d.fs.cut_power_at(op, 1 + static_cast<int>(random() % 30));
    StoreSnapshotSource source(d.data.store());
    (void)d.snapshot(source);
    // The writer stops once the power is cut, or when told after a snapshot that got through.
    stop.store(true);
    writer.join();
    (void)d.crash_and_recover();
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace durable::test
