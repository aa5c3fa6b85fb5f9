// FileSystem::map_file, the real one and the fault-injecting one's.
#include <gtest/gtest.h>

#include <cerrno>
#include <string>
#include <utility>

#include "durable/file_ops.h"
#include "fault_injection_fs.h"
#include "support/temp_dir.h"

namespace durable {
namespace {

class MapFileTest : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return (dir_.path() / name).string(); }
  void write(const std::string& file_path, std::string_view contents) {
    auto file = fs_.open_append(file_path);
    ASSERT_TRUE(file) << file.status().message();
    ASSERT_TRUE((*file)->append(contents));
    ASSERT_TRUE((*file)->close());
  }

  test_support::TempDir dir_{"storage_api_map_file"};
  PosixFileSystem fs_;
};

TEST_F(MapFileTest, MapsTheWholeFileReadOnly) {
  std::string contents(3 << 20, '\0');
  for (std::size_t i = 0; i < contents.size(); ++i) contents[i] = static_cast<char>(i * 131 + i / 4096);
  write(path("big"), contents);
  auto mapped = fs_.map_file(path("big"));
  ASSERT_TRUE(mapped) << mapped.status().message();
  EXPECT_EQ(mapped->bytes().size(), contents.size());
  EXPECT_TRUE(mapped->bytes() == contents);

  // Moved, the mapping stays valid in its new owner and the old one is empty.
  MappedFile moved = std::move(*mapped);
  EXPECT_TRUE(mapped->bytes().empty());
  EXPECT_TRUE(moved.bytes() == contents);
  MappedFile assigned;
  assigned = std::move(moved);
  EXPECT_TRUE(assigned.bytes() == contents);
  assigned.reset();
  EXPECT_TRUE(assigned.bytes().empty());
}

TEST_F(MapFileTest, AnEmptyFileMapsToAnEmptyView) {
  write(path("empty"), "");
  auto mapped = fs_.map_file(path("empty"));
  ASSERT_TRUE(mapped) << mapped.status().message();
  EXPECT_TRUE(mapped->bytes().empty());
}

TEST_F(MapFileTest, AMissingFileIsAnErrorNamingIt) {
  auto mapped = fs_.map_file(path("missing"));
  ASSERT_FALSE(mapped);
  EXPECT_EQ(mapped.status().error_number(), ENOENT);
  EXPECT_NE(mapped.status().message().find(path("missing")), std::string::npos);
  auto directory = fs_.map_file(dir_.path().string());
  EXPECT_FALSE(directory);
}

TEST_F(MapFileTest, TheFaultInjectingFileSystemMapsWhatIsOnDiskAndCanFail) {
  test::FaultInjectionFileSystem faulty(fs_);
  auto file = faulty.open_append(path("log"));
  ASSERT_TRUE(file);
  ASSERT_TRUE((*file)->append("synced "));
  ASSERT_TRUE((*file)->sync_data());
  ASSERT_TRUE((*file)->append("and not"));
  {
    auto mapped = faulty.map_file(path("log"));
    ASSERT_TRUE(mapped) << mapped.status().message();
    EXPECT_EQ(mapped->bytes(), "synced and not");  // as a process reads it, before any power cut
  }
  faulty.fail_nth(test::FaultOp::kMapFile, 1, EIO);
  auto failed = faulty.map_file(path("log"));
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.status().error_number(), EIO);
  EXPECT_EQ(faulty.calls(test::FaultOp::kMapFile), 2u);
  ASSERT_TRUE((*file)->close());
}

}  // namespace
}  // namespace durable
