// The log writer on a full disk, as the service undoes what did not reach the log: a failed suffix of the
// sequence, completed newest first while submit() refuses; and small values submitted without an owner.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
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

// A FileSystem over another that can hold the log thread inside append(), after it took its batch and
// before any byte of it reaches the disk: what is submitted meanwhile is queued behind that batch.
class AppendGateFileSystem final : public FileSystem {
 public:
  explicit AppendGateFileSystem(FileSystem& inner) noexcept : inner_(inner) {}

  void hold() {
    const std::lock_guard lock(mutex_);
    holding_ = true;
  }
  void release() {
    const std::lock_guard lock(mutex_);
    holding_ = false;
    changed_.notify_all();
  }
  bool wait_for_held(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return held_ > 0; });
  }

  base::Result<std::unique_ptr<AppendFile>> open_append(const std::string& path) noexcept override {
    auto file = inner_.open_append(path);
    if (!file) return file.status();
    std::unique_ptr<AppendFile> gated = std::make_unique<File>(*this, std::move(*file));
    return gated;
  }
  base::Result<std::string> read_file(const std::string& path) noexcept override { return inner_.read_file(path); }
  base::Result<std::size_t> read_at(const std::string& path, std::uint64_t offset,
                                    std::span<char> out) noexcept override {
    return inner_.read_at(path, offset, out);
  }
  base::Result<std::uint64_t> file_size(const std::string& path) noexcept override { return inner_.file_size(path); }
  base::Status truncate(const std::string& path, std::uint64_t size) noexcept override {
    return inner_.truncate(path, size);
  }
  base::Status rename(const std::string& from, const std::string& to) noexcept override {
    return inner_.rename(from, to);
  }
  base::Status unlink(const std::string& path) noexcept override { return inner_.unlink(path); }
  base::Status create_directory(const std::string& path) noexcept override { return inner_.create_directory(path); }
  base::Result<std::vector<std::string>> list_directory(const std::string& path) noexcept override {
    return inner_.list_directory(path);
  }
  base::Status sync_directory(const std::string& path) noexcept override { return inner_.sync_directory(path); }
  base::Result<FileLock> lock_file(const std::string& path) noexcept override { return inner_.lock_file(path); }
  base::Result<MappedFile> map_file(const std::string& path) noexcept override { return inner_.map_file(path); }

 private:
  class File final : public AppendFile {
   public:
    File(AppendGateFileSystem& fs, std::unique_ptr<AppendFile> inner) noexcept : fs_(fs), inner_(std::move(inner)) {}
    base::Status append(std::span<const std::string_view> pieces) noexcept override {
      fs_.pass();
      return inner_->append(pieces);
    }
    base::Status sync_data() noexcept override { return inner_->sync_data(); }
    base::Status sync() noexcept override { return inner_->sync(); }
    base::Result<std::uint64_t> size() noexcept override { return inner_->size(); }
    base::Status close() noexcept override { return inner_->close(); }
    const std::string& path() const noexcept override { return inner_->path(); }

   private:
    AppendGateFileSystem& fs_;
    std::unique_ptr<AppendFile> inner_;
  };

  void pass() {
    std::unique_lock lock(mutex_);
    if (!holding_) return;
    ++held_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return !holding_; });
    --held_;
  }

  FileSystem& inner_;
  std::mutex mutex_;
  std::condition_variable changed_;
  bool holding_ = false;
  int held_ = 0;
};

// Records what it is told and, once `probing`, first tries to submit from inside logged(), as an undo
// that raced a new request would: what submit() answered is kept (0 when it accepted).
class ProbingRecorder final : public Completion {
 public:
  explicit ProbingRecorder(LogWriter& writer) : writer_(writer) {}
  void logged(std::uint64_t sequence, const base::Status& status) noexcept override {
    if (probing.load()) {
      const auto probe = writer_.submit(delete_record(0, "probe"), {}, accepted_probes);
      const std::lock_guard lock(mutex_);
      probes_.push_back(probe ? 0 : probe.status().error_number());
    }
    recorder.logged(sequence, status);
  }
  std::vector<int> probes() const {
    const std::lock_guard lock(mutex_);
    return probes_;
  }

  std::atomic<bool> probing{false};
  Recorder recorder;
  Recorder accepted_probes;  // none should be

 private:
  LogWriter& writer_;
  mutable std::mutex mutex_;
  std::vector<int> probes_;
};

std::vector<std::uint64_t> sequences(const std::vector<Logged>& logged) {
  std::vector<std::uint64_t> out;
  for (const Logged& l : logged) out.push_back(l.sequence);
  return out;
}

// A batch hits the full disk at its third record: that record, the rest of the batch and the two records
// queued behind it fail, newest first, after the batch's first two records succeeded in order; submit()
// refuses from inside those completions; the file keeps the whole records; once the completions are done
// and there is room, the log goes on.
TEST_F(LogWriterTest, ANoSpaceCutFailsTheRestOfTheSequenceNewestFirst) {
  AppendGateFileSystem gate(fs_);
  LogWriterOptions options;
  options.directory = dir();
  auto opened = LogWriter::open(gate, budget_, options);
  ASSERT_TRUE(opened) << opened.status().message();
  LogWriter& writer = **opened;
  ProbingRecorder completions(writer);

  fs_.close_sync_gate();  // hold the thread in r0's sync while the batch queues
  const Submission r0 = Submission::put("r0", 10);
  ASSERT_TRUE(submit(writer, r0, completions));
  ASSERT_TRUE(fs_.wait_for_syncs_at_gate(1, kPatience));
  const std::vector<Submission> batch = {Submission::put("a", 300, '1'), Submission::put("b", 300, '2'),
                                         Submission::put("a", 300, '3'), Submission::remove("b")};
  for (const Submission& s : batch) ASSERT_TRUE(submit(writer, s, completions));
  gate.hold();
  fs_.open_sync_gate();
  ASSERT_TRUE(completions.recorder.wait_for(1));
  completions.probing = true;
  ASSERT_TRUE(gate.wait_for_held(kPatience));  // the thread took the batch and is about to write it
  const std::vector<Submission> behind = {Submission::put("a", 300, '5'), Submission::remove("a")};
  for (const Submission& s : behind) ASSERT_TRUE(submit(writer, s, completions));
  fs_.limit_bytes(kBatchRecordBytes + size_of(batch[0]) + size_of(batch[1]) + 100);
  gate.release();
  ASSERT_TRUE(completions.recorder.wait_for(7));

  const auto logged = completions.recorder.logged();
  EXPECT_EQ(sequences(logged), (std::vector<std::uint64_t>{1, 2, 3, 7, 6, 5, 4}));
  for (std::size_t i = 0; i < logged.size(); ++i) {
    EXPECT_EQ(logged[i].ok, i < 3) << i;
    if (i >= 3) {
      EXPECT_EQ(logged[i].error_number, ENOSPC) << i;
    }
  }
  // From the cut on, the batch's successes included, submit() refused for no space.
  EXPECT_EQ(completions.probes(), std::vector<int>(6, ENOSPC));
  EXPECT_EQ(completions.accepted_probes.count(), 0u);
  EXPECT_FALSE(writer.failed());
  EXPECT_EQ(writer.stats().no_space_records, 4u);
  EXPECT_EQ(writer.stats().written_sequence, 3u);
  EXPECT_EQ(budget_.used(), 0u);

  // The file was cut back to the last whole record: it scans clean, with r0 and the batch's first two.
  const auto bytes = real_.read_file(segment_path(dir(), 1));
  ASSERT_TRUE(bytes);
  std::vector<std::uint64_t> on_disk;
  const ScanResult scanned = scan_log(*bytes, RecordLimits{}, [&](const Record& r, std::size_t, std::size_t) {
    if (r.operation != Operation::kBatch) on_disk.push_back(r.sequence);
  });
  EXPECT_EQ(scanned.verdict, ScanVerdict::kClean) << scanned.reason;
  EXPECT_EQ(on_disk, (std::vector<std::uint64_t>{1, 2, 3}));

  // Room again: once the failed completions have all returned, submit() accepts and the log goes on.
  completions.probing = false;
  fs_.limit_bytes(UINT64_MAX);
  const Submission later = Submission::put("a", 300, '8');
  base::Result<std::uint64_t> again = base::Status::error("not submitted", ENOSPC);
  ASSERT_TRUE(eventually([&] {
    again = submit(writer, later, completions);
    return !is_no_space(again.status());
  }));
  ASSERT_TRUE(again) << again.status().message();
  EXPECT_EQ(*again, 8u);  // refusals take no sequence number
  ASSERT_TRUE(completions.recorder.wait_for(8));
  EXPECT_TRUE(completions.recorder.logged()[7].ok);
  ASSERT_TRUE(writer.close());

  const Recovered recovered = recover(real_, dir());
  ASSERT_EQ(recovered.segments.size(), 1u);
  EXPECT_EQ(recovered.segments[0].verdict, ScanVerdict::kClean) << recovered.segments[0].reason;
  std::vector<OwnedRecord> expected;
  const std::pair<std::uint64_t, const Submission*> kept[] = {{1, &r0}, {2, &batch[0]}, {3, &batch[1]}, {8, &later}};
  for (const auto& [sequence, s] : kept) {
    expected.push_back(s->record);
    expected.back().sequence = sequence;
  }
  EXPECT_EQ(recovered.records, expected);
}

// Values without an owner, up to the bound, are copied at submit(): the caller's bytes may change or go
// at once, while more submissions grow the queue around them. One over the bound needs its owner.
TEST_F(LogWriterTest, SmallValuesWithoutAnOwnerAreCopiedAtSubmit) {
  auto writer = open(FsyncPolicy::kAlways);
  ASSERT_TRUE(writer);
  fs_.close_sync_gate();  // everything below queues behind r0's sync
  ASSERT_TRUE(submit(*writer, Submission::put("r0", 10), recorder_));
  ASSERT_TRUE(fs_.wait_for_syncs_at_gate(1, kPatience));

  std::vector<OwnedRecord> expected;
  std::uint64_t next = 2;
  const std::size_t sizes[] = {1, 100, LogBatch::kInlineValueBytes, LogBatch::kInlineValueBytes + 1, 2028,
                               LogWriter::kMaxCopiedValueBytes, 7, 3000};
  for (std::size_t i = 0; i < std::size(sizes); ++i) {
    auto value = std::make_unique<std::string>(sizes[i], static_cast<char>('a' + i));
    const std::string id = "copied-" + std::to_string(i);
    const Record record = put_record(0, id, *value, 1000 + i, 1'700'000'000, "text/plain");
    const auto sequence = writer->submit(record, base::SharedBytes(), recorder_);
    ASSERT_TRUE(sequence) << sequence.status().message();
    ASSERT_EQ(*sequence, next++);
    expected.push_back(OwnedRecord::from(record));
    expected.back().sequence = *sequence;
    std::fill(value->begin(), value->end(), '#');  // the caller reuses its bytes, then frees them
    value.reset();
    if (i % 3 == 1) {  // owned values in between, referenced rather than copied
      const Submission owned = Submission::put("owned-" + std::to_string(i), 700 * i, 'o');
      const auto owned_sequence = submit(*writer, owned, recorder_);
      ASSERT_TRUE(owned_sequence);
      ASSERT_EQ(*owned_sequence, next++);
      expected.push_back(owned.record);
      expected.back().sequence = *owned_sequence;
    }
  }
  const Submission over = Submission::put("over", LogWriter::kMaxCopiedValueBytes + 1);
  EXPECT_EQ(writer->submit(over.view(), base::SharedBytes(), recorder_).status().error_number(), EINVAL);
  const auto owned_over = submit(*writer, over, recorder_);
  ASSERT_TRUE(owned_over);
  expected.push_back(over.record);
  expected.back().sequence = *owned_over;

  fs_.open_sync_gate();
  ASSERT_TRUE(recorder_.wait_for(expected.size() + 1));
  for (const Logged& l : recorder_.logged()) EXPECT_TRUE(l.ok) << l.sequence;
  ASSERT_TRUE(writer->close());
  EXPECT_EQ(budget_.used(), 0u);
  const Recovered recovered = recover(real_, dir());
  ASSERT_EQ(recovered.records.size(), expected.size() + 1);
  EXPECT_EQ(recovered.records[0].id, "r0");
  EXPECT_EQ(std::vector<OwnedRecord>(recovered.records.begin() + 1, recovered.records.end()), expected);
}

// The service's use: each write applied to a store under its shard lock, submitted inside that lock, and
// undone in logged() (taking the shard lock) when it failed for no space. With the disk filling and
// emptying under two submitters, no completion runs under the writer's lock (that would deadlock), each
// failed one comes when every later accepted record has completed, and the store ends equal to its log.
TEST_F(LogWriterTest, UndoingFailedSuffixesKeepsAStoreEqualToItsLog) {
  struct Store {
    std::mutex shard;
    std::condition_variable changed;
    std::map<std::string, std::string> objects;
    std::set<std::uint64_t> outstanding;  // accepted, not completed
    int in_flight[2] = {};                // of each submitter
    std::uint64_t completed_ok = 0, undone = 0, out_of_order = 0, unexpected = 0;
  } store;
  class Undo final : public Completion {
   public:
    void logged(std::uint64_t sequence, const base::Status& status) noexcept override {
      const std::lock_guard lock(store->shard);
      store->outstanding.erase(sequence);
      --store->in_flight[submitter];
      if (status) {
        ++store->completed_ok;
      } else {
        if (!is_no_space(status)) ++store->unexpected;
        if (!store->outstanding.empty() && *store->outstanding.rbegin() > sequence) ++store->out_of_order;
        if (previous) {
          store->objects[id] = *previous;
        } else {
          store->objects.erase(id);
        }
        ++store->undone;
      }
      store->changed.notify_all();
    }
    Store* store = nullptr;
    int submitter = 0;
    std::string id;
    std::optional<std::string> previous;
  };

  auto writer = open(FsyncPolicy::kAlways);
  ASSERT_TRUE(writer);
  constexpr int kThreads = 2;
  constexpr int kEach = 400;
  std::vector<Undo> undos(kThreads * kEach);
  std::vector<std::thread> submitters;
  for (int t = 0; t < kThreads; ++t) {
    submitters.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<std::uint64_t>(t) + 17);
      const int window = 1 + static_cast<int>(rng() % 6);  // records in flight, as clients waiting for answers
      for (int i = 0; i < kEach; ++i) {
        if (t == 0 && i % 25 == 0) fs_.limit_bytes(i % 50 == 0 ? rng() % 12'000 : UINT64_MAX);
        Undo& undo = undos[static_cast<std::size_t>(t * kEach + i)];
        undo.store = &store;
        undo.submitter = t;
        undo.id = "k" + std::to_string(rng() % 5);
        const bool remove = rng() % 6 == 0;
        const std::size_t bytes = rng() % 8 == 0 ? 9000 : rng() % 3000;
        const std::string value(bytes, static_cast<char>('a' + i % 26));
        base::SharedBytes owner = bytes > LogWriter::kMaxCopiedValueBytes ? base::SharedBytes::copy_of(value)
                                                                          : base::SharedBytes();
        const Record record = remove ? delete_record(0, undo.id)
                                     : put_record(0, undo.id, owner ? owner.view() : std::string_view(value),
                                                  bytes, 1'700'000'000, "application/octet-stream");
        std::unique_lock lock(store.shard);
        store.changed.wait(lock, [&] { return store.in_flight[t] < window; });
        const auto found = store.objects.find(undo.id);
        undo.previous = found == store.objects.end() ? std::nullopt : std::optional<std::string>(found->second);
        if (remove) {
          store.objects.erase(undo.id);
        } else {
          store.objects[undo.id] = value;
        }
        const auto sequence = writer->submit(record, std::move(owner), undo);
        if (sequence) {
          store.outstanding.insert(*sequence);
          ++store.in_flight[t];
        } else {  // refused: nothing to wait for, undone at once
          if (!is_no_space(sequence.status())) ++store.unexpected;
          if (undo.previous) {
            store.objects[undo.id] = *undo.previous;
          } else {
            store.objects.erase(undo.id);
          }
        }
      }
    });
  }
  for (std::thread& submitter : submitters) submitter.join();
  {
    std::unique_lock lock(store.shard);
    ASSERT_TRUE(store.changed.wait_for(lock, kPatience, [&] { return store.outstanding.empty(); }));
  }
  ASSERT_TRUE(writer->close());
  EXPECT_EQ(store.unexpected, 0u);
  EXPECT_EQ(store.out_of_order, 0u);
  EXPECT_GT(store.undone, 1u);  // the disk did fill
  EXPECT_GT(store.completed_ok, 0u);
  EXPECT_EQ(writer->stats().no_space_records, store.undone);

  const Recovered recovered = recover(real_, dir());
  ASSERT_EQ(recovered.segments.size(), 1u);
  EXPECT_EQ(recovered.segments[0].verdict, ScanVerdict::kClean) << recovered.segments[0].reason;
  EXPECT_EQ(recovered.records.size(), store.completed_ok);
  std::map<std::string, std::string> replayed;
  for (const OwnedRecord& r : recovered.records) {
    if (r.operation == Operation::kPut) {
      replayed[r.id] = r.value;
    } else {
      replayed.erase(r.id);
    }
  }
  EXPECT_EQ(replayed, store.objects);
}

}  // namespace
}  // namespace durable::test
