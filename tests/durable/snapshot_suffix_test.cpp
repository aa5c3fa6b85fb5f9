// A suffix of the log that fails (a full disk) while a snapshot's capture holds its changes: the changes are
// undone in the store, so the snapshot is discarded, and the next attempt is kept.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <string>
#include <vector>

#include "snapshot_harness.h"

namespace durable::test {
namespace {

// Over another file system: once armed, the next append to a log segment fails for a full disk, writing
// nothing, while the snapshot's own file is written as usual.
class SegmentFullFileSystem final : public FileSystem {
 public:
  explicit SegmentFullFileSystem(FileSystem& inner) noexcept : inner_(inner) {}
  void arm() { armed_.store(true); }

  base::Result<std::unique_ptr<AppendFile>> open_append(const std::string& path) noexcept override {
    auto file = inner_.open_append(path);
    if (!file || path.find("/segment-") == std::string::npos) return file;
    return std::unique_ptr<AppendFile>(std::make_unique<File>(std::move(*file), armed_));
  }
  base::Result<std::string> read_file(const std::string& p) noexcept override { return inner_.read_file(p); }
  base::Result<std::size_t> read_at(const std::string& p, std::uint64_t o, std::span<char> out) noexcept override {
    return inner_.read_at(p, o, out);
  }
  base::Result<std::uint64_t> file_size(const std::string& p) noexcept override { return inner_.file_size(p); }
  base::Status truncate(const std::string& p, std::uint64_t n) noexcept override { return inner_.truncate(p, n); }
  base::Status rename(const std::string& f, const std::string& t) noexcept override { return inner_.rename(f, t); }
  base::Status unlink(const std::string& p) noexcept override { return inner_.unlink(p); }
  base::Status create_directory(const std::string& p) noexcept override { return inner_.create_directory(p); }
  base::Result<std::vector<std::string>> list_directory(const std::string& p) noexcept override {
    return inner_.list_directory(p);
  }
  base::Status sync_directory(const std::string& p) noexcept override { return inner_.sync_directory(p); }
  base::Result<FileLock> lock_file(const std::string& p) noexcept override { return inner_.lock_file(p); }
  base::Result<MappedFile> map_file(const std::string& p) noexcept override { return inner_.map_file(p); }

 private:
  class File final : public AppendFile {
   public:
    File(std::unique_ptr<AppendFile> inner, std::atomic<bool>& armed) noexcept : inner_(std::move(inner)), armed_(armed) {}
    base::Status append(std::span<const std::string_view> pieces) noexcept override {
      if (armed_.exchange(false)) return base::Status::error("append " + path() + ": disk full (test)", ENOSPC);
      return inner_->append(pieces);
    }
    base::Status sync_data() noexcept override { return inner_->sync_data(); }
    base::Status sync() noexcept override { return inner_->sync(); }
    base::Result<std::uint64_t> size() noexcept override { return inner_->size(); }
    base::Status close() noexcept override { return inner_->close(); }
    const std::string& path() const noexcept override { return inner_->path(); }

   private:
    std::unique_ptr<AppendFile> inner_;
    std::atomic<bool>& armed_;
  };

  FileSystem& inner_;
  std::atomic<bool> armed_{false};
};

// The dangerous interleaving: a put is applied and captured, then its batch fails for a full disk and the
// put is undone (answered 507). Kept, the snapshot would bring back what the client was told failed.
class SuffixFailingSource final : public SnapshotSource {
 public:
  SuffixFailingSource(JournaledStore& data, FaultInjectionFileSystem& gate, SegmentFullFileSystem& disk)
      : data_(data), gate_(gate), disk_(disk), inner_(data.store()) {}
  std::size_t parts() const noexcept override { return inner_.parts(); }
  bool capture(std::size_t part, SnapshotCapture& out) noexcept override {
    if (part == 0) {
      gate_.close_sync_gate();
      held_ = data_.put_async("held", "acknowledged once the gate opens");
      EXPECT_TRUE(gate_.wait_for_syncs_at_gate(1, kPatience));
      doomed_ = data_.put_async("doomed", "applied, captured, then undone");
      disk_.arm();  // the doomed put's batch, written once the held one is synced
    }
    // "doomed" is captured whichever part holds it: it is undone only once the gate opens, below.
    const bool whole = inner_.capture(part, out);
    if (part + 1 == parts()) gate_.open_sync_gate();
    return whole;
  }
  std::shared_ptr<Write> held_, doomed_;

 private:
  JournaledStore& data_;
  FaultInjectionFileSystem& gate_;
  SegmentFullFileSystem& disk_;
  StoreSnapshotSource inner_;
};

TEST_F(SnapshotTest, ASuffixFailingWhileTheCaptureHoldsItDiscardsTheAttempt) {
  SegmentFullFileSystem disk(fs_);
  ASSERT_TRUE(writer_->close());
  LogWriterOptions log_options;
  log_options.directory = dir();
  log_options.segment = 2;  // the log goes on after the one SetUp opened
  auto reopened = LogWriter::open(disk, budget_, log_options);
  ASSERT_TRUE(reopened) << reopened.status().message();
  writer_ = std::move(*reopened);
  data_.attach(writer_.get());
  fill();
  SuffixFailingSource source(data_, fs_, disk);
  SnapshotOptions options;
  options.directory = dir();
  const std::uint64_t suffix_before = writer_->stats().suffix_records;
  auto report = write_snapshot(fs_, *writer_, source, budget_, options);
  ASSERT_TRUE(report) << report.status().message();
  EXPECT_EQ(report->outcome, SnapshotOutcome::kDiscarded);
  EXPECT_TRUE(source.held_->wait());
  EXPECT_FALSE(source.doomed_->wait());
  EXPECT_EQ(source.doomed_->error_number(), ENOSPC);
  EXPECT_EQ(writer_->stats().suffix_records, suffix_before + 1);
  store::Lookup lookup;
  EXPECT_FALSE(data_.store().get("doomed", lookup)) << "undone";
  EXPECT_TRUE(listing().snapshots.empty());
  EXPECT_TRUE(listing().temp_snapshots.empty());
  EXPECT_EQ(listing().segments.front(), 1u);

  // The next attempt, with nothing failing, is kept.
  auto next = snapshot();
  ASSERT_TRUE(next) << next.status().message();
  EXPECT_EQ(next->outcome, SnapshotOutcome::kWritten);
  ASSERT_TRUE(writer_->close());
  ModelSink sink;
  ASSERT_TRUE(recover_into(sink));
  EXPECT_EQ(sink.model, data_.acknowledged());
  EXPECT_EQ(sink.model.count("doomed"), 0u);
  EXPECT_EQ(sink.model.count("held"), 1u);
}

}  // namespace
}  // namespace durable::test
