// Snapshots: the file round-trips every shape of object, write_snapshot() replaces the segments it covers
// and recovery loads it and replays only what follows; a snapshot that is not whole is refused naming the
// file; temp files are never read; covered segments go oldest first; a part over the budget fails the
// attempt; a snapshot loads into a store under the same hash key.
#include "durable/snapshot.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "durable/data_directory.h"
#include "durable/snapshot_file.h"
#include "snapshot_harness.h"

namespace durable::test {
namespace {

TEST_F(SnapshotTest, NamesSortAsNumbersAndTheListingHoldsSnapshotsAndTempFiles) {
  EXPECT_EQ(snapshot_file_name(12), "snapshot-00000000000000000012.snap");
  bool temp = true;
  EXPECT_EQ(parse_snapshot_file_name(snapshot_file_name(UINT64_MAX), temp), UINT64_MAX);
  EXPECT_FALSE(temp);
  EXPECT_EQ(parse_snapshot_file_name(snapshot_file_name(7) + ".tmp", temp), 7u);
  EXPECT_TRUE(temp);
  for (const std::string& bad :
       {std::string("snapshot-12.snap"), std::string("snapshot-00000000000000000000.snap"),
        std::string("snapshot-0000000000000000001x.snap"), snapshot_file_name(3) + ".old", segment_file_name(3)}) {
    EXPECT_FALSE(parse_snapshot_file_name(bad, temp)) << bad;
  }
  for (const std::string& name : {snapshot_file_name(9), snapshot_file_name(4), snapshot_file_name(4) + ".tmp",
                                  snapshot_file_name(11) + ".tmp", std::string("snapshot-notes.txt")}) {
    auto file = real_.open_append(dir() + "/" + name);
    ASSERT_TRUE(file);
  }
  const DataDirectoryListing listed = listing();
  EXPECT_EQ(listed.segments, (std::vector<std::uint64_t>{1}));
  EXPECT_EQ(listed.snapshots, (std::vector<std::uint64_t>{4, 9}));
  EXPECT_EQ(listed.temp_snapshots, (std::vector<std::uint64_t>{4, 11}));
}

TEST_F(SnapshotTest, TheFileRoundTripsAndIsValidOnlyWhole) {
  SnapshotHeader header{7, 1234};
  const std::string temp = snapshot_temp_path(dir(), 7);
  auto file = SnapshotFileWriter::create(fs_, temp, snapshot_path(dir(), 7), header, RecordLimits{});
  ASSERT_TRUE(file) << file.status().message();
  const std::string binary("\0\x01\xff", 3);
  std::vector<OwnedRecord> written;
  std::string bytes;
  for (std::uint64_t i = 1; i <= 4; ++i) {
    OwnedRecord record = OwnedRecord::from(put_record(i, binary + std::to_string(i), std::string(i * 1000, 'a' + i),
                                                      i * 77, -static_cast<std::int64_t>(i), i % 2 ? "" : "a/b"));
    ASSERT_TRUE(append_record(record.view(), RecordLimits{}, bytes));
    written.push_back(record);
  }
  const std::string_view piece(bytes);
  ASSERT_TRUE((*file)->append(std::span<const std::string_view>(&piece, 1), bytes.size(), 4));
  ASSERT_TRUE((*file)->finish());
  EXPECT_FALSE(real_.file_size(temp).is_ok()) << "the temp file is renamed";

  struct Collect final : SnapshotCallback {
    base::Status put(const Record& record) noexcept override {
      records.push_back(OwnedRecord::from(record));
      return base::Status::ok();
    }
    std::vector<OwnedRecord> records;
  } collect;
  const std::string path = snapshot_path(dir(), 7);
  auto loaded = load_snapshot(real_, path, 7, collect);
  ASSERT_TRUE(loaded) << loaded.status().message();
  EXPECT_EQ(loaded->header.segment, 7u);
  EXPECT_EQ(loaded->header.sequence, 1234u);
  EXPECT_EQ(loaded->objects, 4u);
  EXPECT_EQ(collect.records, written);
  EXPECT_FALSE(load_snapshot(real_, path, 8, collect)) << "the name and the header must agree";

  // Every cut of the file is refused, naming it; so is every flipped bit of its header, heads and end.
  auto whole = real_.read_file(path);
  ASSERT_TRUE(whole);
  const std::string original = *whole;
  const std::string cut_path = dir() + "/cut";
  const auto refused = [&](const std::string& content) {
    {
      auto out = real_.open_append(cut_path);
      EXPECT_TRUE(out);
      EXPECT_TRUE((*out)->append(content));
      EXPECT_TRUE((*out)->close());
    }
    Collect ignored;
    auto result = load_snapshot(real_, cut_path, 7, ignored);
    EXPECT_TRUE(real_.unlink(cut_path));
    return !result && is_snapshot_damaged(result.status()) &&
           result.status().message().find(cut_path) != std::string::npos;
  };
  for (std::size_t size = 0; size < original.size(); ++size) {
    EXPECT_TRUE(refused(original.substr(0, size))) << "cut at " << size;
  }
  for (std::size_t byte = 0; byte < original.size(); byte += (byte < 64 || byte + 64 > original.size()) ? 1 : 97) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = original;
      flipped[byte] = static_cast<char>(flipped[byte] ^ (1 << bit));
      const bool version_byte = byte >= 8 && byte < 12;  // an intact other version is refused as such
      if (!version_byte) {
        EXPECT_TRUE(refused(flipped)) << "bit " << bit << " of byte " << byte;
      }
    }
  }
  EXPECT_TRUE(refused(original + std::string(1, '\0'))) << "bytes after the end record";
}

TEST_F(SnapshotTest, RecoveryLoadsTheSnapshotAndReplaysOnlyTheSegmentsAfterIt) {
  fill(3);
  const std::uint64_t segments_before = listing().segments.size();
  ASSERT_EQ(segments_before, 4u);
  auto report = snapshot();
  ASSERT_TRUE(report) << report.status().message();
  EXPECT_EQ(report->outcome, SnapshotOutcome::kWritten);
  EXPECT_EQ(report->segment, 5u);
  EXPECT_EQ(report->objects, data_.acknowledged().size());
  EXPECT_EQ(report->segments_removed, 4u);
  EXPECT_TRUE(report->cleanup) << report->cleanup.message();
  EXPECT_EQ(report->file, snapshot_path(dir(), 5));
  auto size = real_.file_size(report->file);
  ASSERT_TRUE(size);
  EXPECT_EQ(report->bytes, *size);
  // Segment 5 began the snapshot, 6 the rotation that made its capture durable.
  EXPECT_EQ(listing().segments, (std::vector<std::uint64_t>{5, 6}));
  EXPECT_EQ(listing().snapshots, (std::vector<std::uint64_t>{5}));

  // Writes after it land in segment 6 and are replayed over it.
  ASSERT_TRUE(data_.put("after", "written after the snapshot"));
  ASSERT_TRUE(data_.erase("id-0"));
  ASSERT_TRUE(writer_->close());
  ModelSink sink;
  auto recovered = recover_into(sink);
  ASSERT_TRUE(recovered) << recovered.status().message();
  EXPECT_EQ(sink.model, data_.acknowledged()) << describe(sink.model);
  EXPECT_EQ(sink.bad_etags, 0u);
  ASSERT_TRUE(recovered->snapshot);
  EXPECT_EQ(recovered->snapshot->file, report->file);
  EXPECT_EQ(recovered->snapshot->objects, report->objects);
  EXPECT_EQ(recovered->snapshot->bytes, report->bytes);
  EXPECT_EQ(recovered->segments, 2u);
  EXPECT_EQ(recovered->puts, 1u);
  EXPECT_EQ(recovered->deletes, 1u);
  EXPECT_EQ(recovered->next_segment, 7u);

  // The writer goes on after it, and the next snapshot replaces this one.
  LogWriterOptions options;
  options.directory = dir();
  options.segment = recovered->next_segment;
  options.next_sequence = recovered->next_sequence;
  auto next = LogWriter::open(fs_, budget_, options);
  ASSERT_TRUE(next) << next.status().message();
  writer_ = std::move(*next);
  data_.attach(writer_.get());
  ASSERT_TRUE(data_.put("later", value_of(9000, 5)));
  auto second = snapshot();
  ASSERT_TRUE(second) << second.status().message();
  EXPECT_EQ(second->segment, 8u);
  EXPECT_EQ(second->snapshots_removed, 1u);
  EXPECT_EQ(second->segments_removed, 3u);
  EXPECT_EQ(listing().snapshots, (std::vector<std::uint64_t>{8}));
  ASSERT_TRUE(writer_->close());
  ModelSink again;
  auto last = recover_into(again);
  ASSERT_TRUE(last) << last.status().message();
  EXPECT_EQ(again.model, data_.acknowledged());
  EXPECT_EQ(last->puts + last->deletes, 0u);
}

TEST_F(SnapshotTest, ADamagedSnapshotIsRefusedEvenWithRepairNamingTheFile) {
  fill();
  auto report = snapshot();
  ASSERT_TRUE(report) << report.status().message();
  ASSERT_TRUE(writer_->close());
  auto bytes = real_.read_file(report->file);
  ASSERT_TRUE(bytes);
  std::string damaged = *bytes;
  damaged[damaged.size() / 2] = static_cast<char>(damaged[damaged.size() / 2] ^ 0x10);
  ASSERT_TRUE(real_.unlink(report->file));
  auto out = real_.open_append(report->file);
  ASSERT_TRUE(out);
  ASSERT_TRUE((*out)->append(damaged));
  ASSERT_TRUE((*out)->close());
  for (const bool repair : {false, true}) {
    ModelSink sink;
    auto recovered = recover_into(sink, repair);
    ASSERT_FALSE(recovered);
    EXPECT_TRUE(is_log_damaged(recovered.status()));
    EXPECT_NE(recovered.status().message().find(report->file), std::string::npos) << recovered.status().message();
    EXPECT_NE(recovered.status().message().find("offset"), std::string::npos);
  }
  EXPECT_EQ(listing().segments, (std::vector<std::uint64_t>{3, 4})) << "a refused start changes nothing";
}

TEST_F(SnapshotTest, AMissingSegmentAfterTheSnapshotIsDamage) {
  fill();
  ASSERT_TRUE(snapshot());
  ASSERT_TRUE(writer_->close());
  ASSERT_TRUE(real_.unlink(segment_path(dir(), 3)));
  ModelSink sink;
  auto recovered = recover_into(sink);
  ASSERT_FALSE(recovered);
  EXPECT_TRUE(is_log_damaged(recovered.status()));
  EXPECT_NE(recovered.status().message().find("segment 3"), std::string::npos) << recovered.status().message();
}

TEST_F(SnapshotTest, TempFilesAreNeverReadAndRecoveryRemovesThem) {
  fill();
  ASSERT_TRUE(writer_->close());
  // An attempt that did not finish, with garbage in it, and one that holds a whole-looking snapshot.
  auto garbage = real_.open_append(snapshot_temp_path(dir(), 9));
  ASSERT_TRUE(garbage);
  ASSERT_TRUE((*garbage)->append("not a snapshot at all"));
  ASSERT_TRUE((*garbage)->close());
  ModelSink sink;
  auto recovered = recover_into(sink);
  ASSERT_TRUE(recovered) << recovered.status().message();
  EXPECT_FALSE(recovered->snapshot);
  EXPECT_EQ(recovered->temp_files_removed, 1u);
  EXPECT_EQ(sink.model, data_.acknowledged());
  EXPECT_TRUE(listing().temp_snapshots.empty());
}

TEST_F(SnapshotTest, CoveredSegmentsGoOldestFirstAndRecoveryFinishesTheJob) {
  fill(3);
  // The second unlink fails: the first segment is gone, the later ones are all there (no gap below S).
  fs_.fail_nth(FaultOp::kUnlink, 2, EIO);
  auto report = snapshot();
  ASSERT_TRUE(report) << report.status().message();
  EXPECT_FALSE(report->cleanup);
  EXPECT_EQ(report->segments_removed, 1u);
  EXPECT_EQ(listing().segments, (std::vector<std::uint64_t>{2, 3, 4, 5, 6}));
  ASSERT_TRUE(writer_->close());
  ModelSink sink;
  auto recovered = recover_into(sink);
  ASSERT_TRUE(recovered) << recovered.status().message();
  EXPECT_EQ(sink.model, data_.acknowledged());
  EXPECT_EQ(recovered->covered_segments_removed, 3u);
  EXPECT_EQ(recovered->segments, 2u) << "segments below the snapshot are not read";
  EXPECT_EQ(listing().segments, (std::vector<std::uint64_t>{5, 6}));
}

// A crash after a second snapshot's rename, before it removed anything: recovery loads the newest, reads
// none of what it covers, and removes the older snapshot and the covered segments.
TEST_F(SnapshotTest, TheNewestSnapshotIsLoadedAndWhatItCoversRemoved) {
  fill();
  auto first = snapshot();
  ASSERT_TRUE(first) << first.status().message();
  ASSERT_TRUE(data_.put("between", "the two snapshots"));
  ASSERT_TRUE(data_.erase("id-1"));
  fs_.fail_nth(FaultOp::kUnlink, 1, EIO);
  auto second = snapshot();
  ASSERT_TRUE(second) << second.status().message();
  EXPECT_FALSE(second->cleanup);
  EXPECT_EQ(listing().snapshots, (std::vector<std::uint64_t>{first->segment, second->segment}));
  ASSERT_TRUE(writer_->close());
  ModelSink sink;
  auto recovered = recover_into(sink);
  ASSERT_TRUE(recovered) << recovered.status().message();
  EXPECT_EQ(sink.model, data_.acknowledged());
  ASSERT_TRUE(recovered->snapshot);
  EXPECT_EQ(recovered->snapshot->segment, second->segment);
  EXPECT_EQ(recovered->puts + recovered->deletes, 0u) << "the first snapshot and its log are not read";
  EXPECT_EQ(recovered->covered_snapshots_removed, 1u);
  EXPECT_EQ(recovered->covered_segments_removed, second->segment - first->segment);
  EXPECT_EQ(listing().snapshots, (std::vector<std::uint64_t>{second->segment}));
  EXPECT_EQ(listing().segments.front(), second->segment);
}

TEST_F(SnapshotTest, APartOverTheBudgetFailsTheAttemptAndChangesNothing) {
  fill();
  // Room for the write buffer, not for the first part's copy.
  base::MemoryAccount tiny((1 << 20) + (64 << 10));
  auto report = snapshot(&tiny);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.status().error_number(), ENOMEM);
  EXPECT_NE(report.status().message().find("part 0"), std::string::npos) << report.status().message();
  EXPECT_EQ(tiny.used(), 0u);
  EXPECT_TRUE(listing().snapshots.empty());
  EXPECT_TRUE(listing().temp_snapshots.empty());
  EXPECT_EQ(listing().segments.front(), 1u) << "nothing was deleted";
  ASSERT_TRUE(writer_->close());
  ModelSink sink;
  ASSERT_TRUE(recover_into(sink));
  EXPECT_EQ(sink.model, data_.acknowledged());
}

// A snapshot written from a store and loaded into one under the same hash key (a test's fixed key; in
// production each process draws its own): in the order of the source's tables every id would be refused
// by the growing table's probe bound long before the end.
TEST_F(SnapshotTest, ASnapshotLoadsIntoAStoreUnderTheSameHashKey) {
  constexpr int kObjects = 60000;
  for (int i = 0; i < kObjects; ++i) {
    ASSERT_EQ(data_.store().put("bench-objs:" + std::to_string(i), "v").result, store::PutResult::kCreated);
  }
  auto report = snapshot();
  ASSERT_TRUE(report) << report.status().message();
  ASSERT_EQ(report->objects, static_cast<std::uint64_t>(kObjects));
  ASSERT_TRUE(writer_->close());
  struct Into final : ReplaySink {
    explicit Into(store::BucketStore& s) : store(s) {}
    base::Status apply(const Record& r) noexcept override {
      const auto result = store.put(r.id, r.value, r.content_type, r.modified_unix_seconds).result;
      refused += result == store::PutResult::kCreated ? 0 : 1;
      return base::Status::ok();
    }
    store::BucketStore& store;
    std::size_t refused = 0;
  };
  store::BucketStore same_key(std::size_t{1} << 30, base::HashKey{1, 2}, data_.store().shard_count());
  Into sink(same_key);
  RecoveryOptions options;
  options.directory = dir();
  ASSERT_TRUE(durable::recover(real_, options, sink));
  EXPECT_EQ(sink.refused, 0u);
  EXPECT_EQ(same_key.bucket_count(), static_cast<std::size_t>(kObjects));
}

}  // namespace
}  // namespace durable::test
