#include "durable/data_directory.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "durable/segment.h"
#include "fault_injection_fs.h"
#include "support/temp_dir.h"

namespace durable {
namespace {

class DataDirectoryTest : public ::testing::Test {
 protected:
  std::string data() const { return (dir_.path() / "data").string(); }

  test_support::TempDir dir_{"storage_api_data_dir"};
  PosixFileSystem fs_;
};

TEST_F(DataDirectoryTest, TheLockCreatesTheDirectoryAndRefusesASecondHolderInOneLine) {
  ASSERT_FALSE(dir_.path().empty());
  {
    auto first = lock_data_directory(fs_, data());
    ASSERT_TRUE(first) << first.status().message();
    EXPECT_TRUE(first->held());
    struct stat st {};
    ASSERT_EQ(::stat(data().c_str(), &st), 0);
    EXPECT_TRUE(S_ISDIR(st.st_mode));
    EXPECT_EQ(st.st_mode & 0777, 0700u);
    EXPECT_TRUE(fs_.file_size(data() + "/LOCK").is_ok());

    // Another open file description, as another process would have.
    auto second = lock_data_directory(fs_, data());
    ASSERT_FALSE(second);
    EXPECT_TRUE(is_locked(second.status()));
    EXPECT_EQ(second.status().message(), "DATA_DIR " + data() + " is in use by another storage_api process");
  }
  auto again = lock_data_directory(fs_, data());  // released with the first
  ASSERT_TRUE(again) << again.status().message();
  EXPECT_TRUE(again->held());
}

TEST_F(DataDirectoryTest, TheLockReportsADirectoryItCannotCreate) {
  const std::string nested = dir_.path().string() + "/absent/data";
  auto lock = lock_data_directory(fs_, nested);
  ASSERT_FALSE(lock);
  EXPECT_FALSE(is_locked(lock.status()));
  EXPECT_EQ(lock.status().error_number(), ENOENT);
}

TEST_F(DataDirectoryTest, TheLockGoesThroughTheFileSystemItIsGiven) {
  test::FaultInjectionFileSystem faulty(fs_);
  faulty.fail_nth(test::FaultOp::kSyncDirectory, 1, EIO);  // the parent's fsync after mkdir
  auto lock = lock_data_directory(faulty, data());
  ASSERT_FALSE(lock);
  EXPECT_EQ(lock.status().error_number(), EIO);
}

TEST_F(DataDirectoryTest, TheListingHoldsSegmentsByNumberAndNothingElse) {
  auto absent = list_data_directory(fs_, data());
  ASSERT_TRUE(absent) << absent.status().message();
  EXPECT_TRUE(absent->segments.empty());

  ASSERT_TRUE(fs_.create_directory(data()));
  for (const std::string& name : {segment_file_name(12), segment_file_name(3), std::string("LOCK"),
                                  std::string("segment-3.log"), segment_file_name(3) + ".tmp",
                                  std::string("notes.txt"), segment_file_name(100)}) {
    auto file = fs_.open_append(data() + "/" + name);
    ASSERT_TRUE(file);
  }
  auto listing = list_data_directory(fs_, data());
  ASSERT_TRUE(listing) << listing.status().message();
  EXPECT_EQ(listing->segments, (std::vector<std::uint64_t>{3, 12, 100}));

  auto not_a_directory = list_data_directory(fs_, data() + "/LOCK");
  ASSERT_FALSE(not_a_directory);
  EXPECT_EQ(not_a_directory.status().error_number(), ENOTDIR);
}

}  // namespace
}  // namespace durable
