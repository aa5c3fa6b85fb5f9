#include "fault_injection_fs.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "durable/log_scan.h"
#include "durable/record.h"
#include "log_builder.h"
#include "support/temp_dir.h"

namespace durable::test {
namespace {

class FaultInjectionTest : public ::testing::Test {
 protected:
  std::string path(std::string_view name) const { return (dir_.path() / std::string(name)).string(); }
  std::string dir() const { return dir_.path().string(); }

  std::unique_ptr<AppendFile> open(const std::string& file_path) {
    auto file = fs_.open_append(file_path);
    EXPECT_TRUE(file) << file.status().message();
    return file ? std::move(*file) : nullptr;
  }
  // A file with `contents` whose data and name are both durable.
  void durable_file(const std::string& file_path, std::string_view contents) {
    auto file = open(file_path);
    ASSERT_TRUE(file);
    ASSERT_TRUE(file->append(contents));
    ASSERT_TRUE(file->sync_data());
    ASSERT_TRUE(file->close());
    ASSERT_TRUE(fs_.sync_directory(dir()));
  }
  std::string contents(const std::string& file_path) {
    auto read = real_.read_file(file_path);
    return read ? *read : std::string("<missing>");
  }
  bool exists(const std::string& file_path) { return real_.file_size(file_path).is_ok(); }

  test_support::TempDir dir_{"storage_api_fault_fs"};
  PosixFileSystem real_;
  FaultInjectionFileSystem fs_{real_};
};

TEST_F(FaultInjectionTest, UnsyncedAppendsVanishSyncedOnesSurvive) {
  const std::string log = path("log");
  auto file = open(log);
  ASSERT_TRUE(file);
  ASSERT_TRUE(fs_.sync_directory(dir()));
  ASSERT_TRUE(file->append("synced;"));
  ASSERT_TRUE(file->sync_data());
  ASSERT_TRUE(file->append("lost"));
  ASSERT_TRUE(file->close());
  EXPECT_EQ(contents(log), "synced;lost");  // the page cache has it all until the power goes

  ASSERT_TRUE(fs_.drop_unsynced());
  EXPECT_EQ(contents(log), "synced;");

  // After the cut everything there counts as durable; new appends are tracked again.
  auto again = open(log);
  ASSERT_TRUE(again);
  ASSERT_TRUE(again->append("more"));
  ASSERT_TRUE(again->close());
  ASSERT_TRUE(fs_.drop_unsynced());
  EXPECT_EQ(contents(log), "synced;");
}

TEST_F(FaultInjectionTest, FsyncCountsLikeFdatasync) {
  const std::string log = path("log");
  auto file = open(log);
  ASSERT_TRUE(file);
  ASSERT_TRUE(fs_.sync_directory(dir()));
  ASSERT_TRUE(file->append("kept"));
  ASSERT_TRUE(file->sync());
  ASSERT_TRUE(file->close());
  ASSERT_TRUE(fs_.drop_unsynced());
  EXPECT_EQ(contents(log), "kept");
}

// The file's own sync does not make its name durable.
TEST_F(FaultInjectionTest, AFileCreatedWithoutADirectorySyncDisappears) {
  const std::string log = path("log");
  auto file = open(log);
  ASSERT_TRUE(file);
  ASSERT_TRUE(file->append("data"));
  ASSERT_TRUE(file->sync_data());
  ASSERT_TRUE(file->close());
  ASSERT_TRUE(fs_.drop_unsynced());
  EXPECT_FALSE(exists(log));
}

TEST_F(FaultInjectionTest, ARenameWithoutADirectorySyncIsUndone) {
  const std::string tmp = path("snapshot.tmp");
  const std::string snapshot = path("snapshot");
  durable_file(snapshot, "old snapshot");
  durable_file(tmp, "new snapshot");
  ASSERT_TRUE(fs_.rename(tmp, snapshot));
  EXPECT_EQ(contents(snapshot), "new snapshot");

  ASSERT_TRUE(fs_.drop_unsynced());
  EXPECT_EQ(contents(snapshot), "old snapshot");  // the replaced file is back
  EXPECT_EQ(contents(tmp), "new snapshot");
}

TEST_F(FaultInjectionTest, ARenameFollowedByADirectorySyncSurvives) {
  const std::string tmp = path("snapshot.tmp");
  const std::string snapshot = path("snapshot");
  durable_file(snapshot, "old snapshot");
  durable_file(tmp, "new snapshot");
  ASSERT_TRUE(fs_.rename(tmp, snapshot));
  ASSERT_TRUE(fs_.sync_directory(dir()));
  ASSERT_TRUE(fs_.drop_unsynced());
  EXPECT_EQ(contents(snapshot), "new snapshot");
  EXPECT_FALSE(exists(tmp));
}

// Written, renamed into place, never synced: the data goes, then the rename, then the file.
TEST_F(FaultInjectionTest, AnUnsyncedRenameOfAnUnsyncedNewFileLeavesNothing) {
  const std::string tmp = path("snapshot.tmp");
  const std::string snapshot = path("snapshot");
  durable_file(snapshot, "old snapshot");
  auto file = open(tmp);
  ASSERT_TRUE(file);
  ASSERT_TRUE(file->append("never synced"));
  ASSERT_TRUE(file->close());
  ASSERT_TRUE(fs_.rename(tmp, snapshot));
  ASSERT_TRUE(fs_.drop_unsynced());
  EXPECT_EQ(contents(snapshot), "old snapshot");
  EXPECT_FALSE(exists(tmp));
}

TEST_F(FaultInjectionTest, AnUnlinkWithoutADirectorySyncIsUndone) {
  const std::string segment = path("log-1");
  durable_file(segment, "records");
  auto file = open(segment);
  ASSERT_TRUE(file);
  ASSERT_TRUE(file->append(" and unsynced ones"));
  ASSERT_TRUE(file->close());
  ASSERT_TRUE(fs_.unlink(segment));
  ASSERT_TRUE(fs_.drop_unsynced());
  EXPECT_EQ(contents(segment), "records");  // back, with what was durable

  ASSERT_TRUE(fs_.unlink(segment));
  ASSERT_TRUE(fs_.sync_directory(dir()));
  ASSERT_TRUE(fs_.drop_unsynced());
  EXPECT_FALSE(exists(segment));
}

TEST_F(FaultInjectionTest, TruncatedBytesDoNotComeBack) {
  const std::string log = path("log");
  durable_file(log, "good part|torn part");
  ASSERT_TRUE(fs_.truncate(log, 10));
  ASSERT_TRUE(fs_.drop_unsynced());
  EXPECT_EQ(contents(log), "good part|");
}

TEST_F(FaultInjectionTest, AnInjectedSyncErrorIsReportedAndItsBytesAreLost) {
  const std::string log = path("log");
  auto file = open(log);
  ASSERT_TRUE(file);
  ASSERT_TRUE(fs_.sync_directory(dir()));
  fs_.fail_nth(FaultOp::kSyncData, 2, EIO);
  ASSERT_TRUE(file->append("one;"));
  ASSERT_TRUE(file->sync_data());
  ASSERT_TRUE(file->append("two;"));
  const base::Status failed = file->sync_data();
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error_number(), EIO);
  EXPECT_NE(failed.message().find("fdatasync"), std::string::npos) << failed.message();
  EXPECT_FALSE(is_no_space(failed));
  // A later sync succeeds, but the pages of "two;" were marked clean without reaching the disk.
  ASSERT_TRUE(file->append("three"));
  ASSERT_TRUE(file->sync_data());
  ASSERT_TRUE(file->close());
  EXPECT_EQ(fs_.calls(FaultOp::kSyncData), 3u);
  ASSERT_TRUE(fs_.drop_unsynced());
  EXPECT_EQ(contents(log), std::string("one;\0\0\0\0three", 13));
}

TEST_F(FaultInjectionTest, WritesPastTheByteBudgetFailWithNoSpaceAfterWritingWhatFits) {
  const std::string log = path("log");
  auto file = open(log);
  ASSERT_TRUE(file);
  fs_.limit_bytes(10);
  ASSERT_TRUE(file->append("12345678"));
  const std::string_view pieces[] = {"a", "bcdef"};
  const base::Status full = file->append(pieces);
  ASSERT_FALSE(full);
  EXPECT_TRUE(is_no_space(full)) << full.message();
  EXPECT_EQ(contents(log), "12345678ab");
  EXPECT_TRUE(is_no_space(file->append("x")));
  EXPECT_EQ(contents(log), "12345678ab");
}

TEST_F(FaultInjectionTest, AnInjectedErrorDoesNothing) {
  const std::string a = path("a");
  durable_file(a, "content");
  fs_.fail_nth(FaultOp::kRename, 1, EIO);
  EXPECT_EQ(fs_.rename(a, path("b")).error_number(), EIO);
  EXPECT_TRUE(exists(a));
  EXPECT_FALSE(exists(path("b")));
  EXPECT_TRUE(fs_.rename(a, path("b")));  // only the first one failed

  fs_.fail_nth(FaultOp::kAppend, 1, EIO);
  auto file = open(path("b"));
  ASSERT_TRUE(file);
  EXPECT_EQ(file->append("more").error_number(), EIO);
  EXPECT_EQ(contents(path("b")), "content");
  fs_.fail_nth(FaultOp::kOpenAppend, 1, EMFILE);
  EXPECT_EQ(fs_.open_append(path("c")).status().error_number(), EMFILE);
  EXPECT_FALSE(exists(path("c")));
}

// The pieces together: a log whose last records were not synced when the power went recovers, after the
// cut, exactly the records that were.
TEST_F(FaultInjectionTest, ALogRecoversTheRecordsSyncedBeforeThePowerCut) {
  const std::string segment = path("log-1");
  const Log log = six_record_log();
  auto file = open(segment);
  ASSERT_TRUE(file);
  ASSERT_TRUE(file->append(std::string_view(log.bytes).substr(0, log.offsets[3])));  // header, three records
  ASSERT_TRUE(file->sync_data());
  ASSERT_TRUE(fs_.sync_directory(dir()));
  // The rest written with a torn write's worth missing.
  ASSERT_TRUE(file->append(std::string_view(log.bytes).substr(log.offsets[3], log.bytes.size() - log.offsets[3] - 5)));
  ASSERT_TRUE(file->close());

  const auto before = real_.read_file(segment);
  ASSERT_TRUE(before);
  const Scanned torn = scan(*before);
  EXPECT_EQ(torn.result.verdict, ScanVerdict::kTornTail);
  EXPECT_EQ(torn.result.records, 5u);

  ASSERT_TRUE(fs_.drop_unsynced());
  const auto after = real_.read_file(segment);
  ASSERT_TRUE(after);
  const Scanned recovered = scan(*after);
  EXPECT_EQ(recovered.result.verdict, ScanVerdict::kClean);
  EXPECT_EQ(recovered.records, std::vector<OwnedRecord>(log.records.begin(), log.records.begin() + 3));
}

// Pages of unsynced data reach the disk or not, each on its own: lost ones read as zeros, and the file
// ends with the last page that made it.
TEST_F(FaultInjectionTest, APageGranularPowerCutKeepsSomeUnsyncedPages) {
  constexpr std::uint64_t kPage = FaultInjectionFileSystem::kPageBytes;
  const std::string log = path("log");
  durable_file(log, std::string(100, 's'));
  auto file = open(log);
  ASSERT_TRUE(file);
  const std::string unsynced = std::string(kPage - 100, 'a') + std::string(kPage, 'b') + std::string(kPage, 'c') +
                               std::string(10, 'd');
  ASSERT_TRUE(file->append(unsynced));
  ASSERT_TRUE(file->close());
  ASSERT_TRUE(fs_.drop_unsynced([&](const std::string& p, std::uint64_t page) {
    EXPECT_EQ(p, log);
    return page == kPage || page == 2 * kPage;  // the first and the last page are lost
  }));
  const std::string expected = std::string(100, 's') + std::string(kPage - 100, '\0') + std::string(kPage, 'b') +
                               std::string(kPage, 'c');
  EXPECT_EQ(contents(log), expected);

  // None surviving is the strict model.
  auto again = open(log);
  ASSERT_TRUE(again);
  ASSERT_TRUE(again->append("lost"));
  ASSERT_TRUE(again->close());
  ASSERT_TRUE(fs_.drop_unsynced([](const std::string&, std::uint64_t) { return false; }));
  EXPECT_EQ(contents(log), expected);
}

// After the power cut nothing changes any more, and a sync the cut stopped does not lose its pages for
// good as a failed one does: they are left to the page-granular drop.
TEST_F(FaultInjectionTest, ACutPowerChangesNothingUntilTheDrop) {
  const std::string log = path("log");
  durable_file(log, "durable;");
  auto file = open(log);
  ASSERT_TRUE(file);
  ASSERT_TRUE(file->append("written;"));
  fs_.cut_power_at(FaultOp::kSyncData, 2);
  ASSERT_TRUE(file->sync_data());
  ASSERT_TRUE(file->append("unsynced"));
  EXPECT_FALSE(fs_.power_is_cut());
  const base::Status cut = file->sync_data();
  EXPECT_EQ(cut.error_number(), EIO);
  EXPECT_TRUE(fs_.power_is_cut());
  EXPECT_EQ(file->append("after").error_number(), EIO);
  EXPECT_EQ(fs_.truncate(log, 0).error_number(), EIO);
  EXPECT_FALSE(fs_.open_append(path("other")));
  ASSERT_TRUE(file->close());
  EXPECT_EQ(contents(log), "durable;written;unsynced");
  ASSERT_TRUE(fs_.drop_unsynced([](const std::string&, std::uint64_t) { return true; }));
  EXPECT_EQ(contents(log), "durable;written;unsynced");
  EXPECT_FALSE(fs_.power_is_cut());
  auto after = open(log);
  ASSERT_TRUE(after);
  EXPECT_TRUE(after->append("!"));
}

// Syncs wait at the closed gate, and go on when it opens or when let through one at a time.
TEST_F(FaultInjectionTest, TheSyncGateHoldsSyncsUntilReleased) {
  auto file = open(path("log"));
  ASSERT_TRUE(file);
  ASSERT_TRUE(file->append("x"));
  EXPECT_FALSE(fs_.wait_for_syncs_at_gate(1, std::chrono::milliseconds(0)));
  fs_.close_sync_gate();
  std::atomic<int> done{0};
  std::thread first([&] {
    EXPECT_TRUE(file->sync_data());
    ++done;
  });
  std::thread second([&] {
    EXPECT_TRUE(file->sync());
    ++done;
  });
  ASSERT_TRUE(fs_.wait_for_syncs_at_gate(2, std::chrono::seconds(20)));
  EXPECT_EQ(done.load(), 0);
  fs_.pass_syncs(1);
  ASSERT_TRUE(fs_.wait_for_syncs_at_gate(1, std::chrono::seconds(20)));
  while (done.load() != 1) std::this_thread::yield();  // the one let through finishes
  EXPECT_TRUE(fs_.wait_for_syncs_at_gate(1, std::chrono::milliseconds(0)));  // the other still waits
  fs_.open_sync_gate();
  first.join();
  second.join();
  EXPECT_EQ(done.load(), 2);
}

}  // namespace
}  // namespace durable::test
