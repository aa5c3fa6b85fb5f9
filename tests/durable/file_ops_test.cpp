#include "durable/file_ops.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <string>
#include <string_view>
#include <vector>

#include "support/temp_dir.h"

namespace durable {
namespace {

class PosixFileSystemTest : public ::testing::Test {
 protected:
  std::string path(std::string_view name) const { return (dir_.path() / std::string(name)).string(); }

  void write(const std::string& file_path, std::string_view contents) {
    auto file = fs_.open_append(file_path);
    ASSERT_TRUE(file) << file.status().message();
    ASSERT_TRUE((*file)->append(contents));
    ASSERT_TRUE((*file)->close());
  }
  std::string contents(const std::string& file_path) {
    auto read = fs_.read_file(file_path);
    EXPECT_TRUE(read) << read.status().message();
    return read ? *read : std::string("<unreadable>");
  }

  test_support::TempDir dir_{"storage_api_file_ops"};
  PosixFileSystem fs_;
};

TEST_F(PosixFileSystemTest, OpenAppendCreatesAPrivateFileAndAppendsGatheredPieces) {
  ASSERT_FALSE(dir_.path().empty());
  const std::string log = path("log");
  auto file = fs_.open_append(log);
  ASSERT_TRUE(file) << file.status().message();
  struct stat st {};
  ASSERT_EQ(::stat(log.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  // More pieces than one writev takes, empty ones among them.
  std::vector<std::string> owned;
  std::string expected;
  for (int i = 0; i < 200; ++i) {
    owned.push_back(i % 7 == 0 ? std::string() : "piece" + std::to_string(i) + ";");
    expected += owned.back();
  }
  owned.push_back(std::string(3 << 20, 'x'));  // and a large one
  expected += owned.back();
  const std::vector<std::string_view> pieces(owned.begin(), owned.end());
  ASSERT_TRUE((*file)->append(pieces));
  ASSERT_TRUE((*file)->append(std::span<const std::string_view>()));
  ASSERT_TRUE((*file)->sync_data());
  ASSERT_TRUE((*file)->sync());
  const auto size = (*file)->size();
  ASSERT_TRUE(size);
  EXPECT_EQ(*size, expected.size());
  EXPECT_EQ((*file)->path(), log);
  ASSERT_TRUE((*file)->close());
  EXPECT_EQ(contents(log), expected);

  // Reopened, it appends after what is there.
  write(log, "tail");
  EXPECT_EQ(contents(log), expected + "tail");
}

TEST_F(PosixFileSystemTest, ReadsARange) {
  const std::string file = path("data");
  write(file, "0123456789");
  std::array<char, 4> out{};
  auto got = fs_.read_at(file, 3, out);
  ASSERT_TRUE(got);
  EXPECT_EQ(std::string_view(out.data(), *got), "3456");
  got = fs_.read_at(file, 8, out);
  ASSERT_TRUE(got);
  EXPECT_EQ(std::string_view(out.data(), *got), "89");
  got = fs_.read_at(file, 20, out);
  ASSERT_TRUE(got);
  EXPECT_EQ(*got, 0u);
  EXPECT_EQ(fs_.read_at(path("missing"), 0, out).status().error_number(), ENOENT);
}

TEST_F(PosixFileSystemTest, SizeTruncateRenameUnlink) {
  const std::string a = path("a");
  const std::string b = path("b");
  write(a, "hello world");
  auto size = fs_.file_size(a);
  ASSERT_TRUE(size);
  EXPECT_EQ(*size, 11u);
  ASSERT_TRUE(fs_.truncate(a, 5));
  EXPECT_EQ(contents(a), "hello");

  write(b, "old");
  ASSERT_TRUE(fs_.rename(a, b));  // replaces b
  EXPECT_EQ(contents(b), "hello");
  EXPECT_EQ(fs_.file_size(a).status().error_number(), ENOENT);

  ASSERT_TRUE(fs_.unlink(b));
  const auto gone = fs_.read_file(b);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.status().error_number(), ENOENT);
  EXPECT_NE(gone.status().message().find(b), std::string::npos) << gone.status().message();
  EXPECT_EQ(fs_.unlink(b).error_number(), ENOENT);
  EXPECT_EQ(fs_.rename(a, b).error_number(), ENOENT);
  EXPECT_EQ(fs_.truncate(a, 0).error_number(), ENOENT);
}

TEST_F(PosixFileSystemTest, DirectoriesAreCreatedListedAndSynced) {
  const std::string sub = path("data");
  ASSERT_TRUE(fs_.create_directory(sub));
  ASSERT_TRUE(fs_.create_directory(sub));  // already there: fine
  struct stat st {};
  ASSERT_EQ(::stat(sub.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  write(sub + "/log-2", "");
  write(sub + "/log-1", "");
  write(sub + "/LOCK", "");
  const auto names = fs_.list_directory(sub);
  ASSERT_TRUE(names) << names.status().message();
  EXPECT_EQ(*names, (std::vector<std::string>{"LOCK", "log-1", "log-2"}));
  EXPECT_TRUE(fs_.sync_directory(sub));

  EXPECT_EQ(fs_.create_directory(sub + "/LOCK").error_number(), EEXIST);  // a file is in the way
  EXPECT_EQ(fs_.list_directory(path("missing")).status().error_number(), ENOENT);
  EXPECT_EQ(fs_.sync_directory(path("missing")).error_number(), ENOENT);
  EXPECT_EQ(fs_.sync_directory(sub + "/LOCK").error_number(), ENOTDIR);
}

TEST_F(PosixFileSystemTest, ALockIsRefusedToAnotherOpenFileDescription) {
  const std::string lock_path = path("LOCK");
  auto first = fs_.lock_file(lock_path);
  ASSERT_TRUE(first) << first.status().message();
  EXPECT_TRUE(first->held());

  auto second = fs_.lock_file(lock_path);  // same process, another open(2)
  ASSERT_FALSE(second);
  EXPECT_TRUE(is_locked(second.status())) << second.status().message();

  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    PosixFileSystem fs;
    const auto attempt = fs.lock_file(lock_path);
    ::_exit(!attempt && is_locked(attempt.status()) ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "another process got the lock";

  first = FileLock();  // released
  auto third = fs_.lock_file(lock_path);
  EXPECT_TRUE(third) << third.status().message();
}

// /dev/full fails every write with ENOSPC: the real errno, reported through append().
TEST_F(PosixFileSystemTest, AFullDeviceIsReportedAsNoSpace) {
  auto full = fs_.open_append("/dev/full");
  if (!full) GTEST_SKIP() << full.status().message();
  const base::Status status = (*full)->append("bytes");
  ASSERT_FALSE(status);
  EXPECT_TRUE(is_no_space(status)) << status.message();
  EXPECT_NE(status.message().find("/dev/full"), std::string::npos) << status.message();
}

TEST(FileOpsErrors, NoSpaceAndLockedAreRecognised) {
  EXPECT_TRUE(is_no_space(base::Status::from_errno("append x", ENOSPC)));
  EXPECT_TRUE(is_no_space(base::Status::from_errno("append x", EDQUOT)));
  EXPECT_FALSE(is_no_space(base::Status::from_errno("append x", EIO)));
  EXPECT_FALSE(is_no_space(base::Status::ok()));
  EXPECT_TRUE(is_locked(base::Status::error("locked", EWOULDBLOCK)));
  EXPECT_FALSE(is_locked(base::Status::from_errno("open", ENOENT)));
  EXPECT_FALSE(is_locked(base::Status::ok()));
}

}  // namespace
}  // namespace durable
