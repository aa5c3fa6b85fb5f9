#include "base/read_file.h"

#include <gtest/gtest.h>

#include <array>
#include <fstream>
#include <string>
#include <string_view>

#include "support/temp_dir.h"

namespace base {
namespace {

std::string write_file(const test_support::TempDir& dir, const std::string& name, std::string_view contents) {
  const std::string path = (dir.path() / name).string();
  std::ofstream(path, std::ios::binary) << contents;
  return path;
}

TEST(ReadWholeFile, ReadsAFileSmallerThanTheBuffer) {
  const test_support::TempDir dir;
  const std::string path = write_file(dir, "cpu.max", "max 100000\n");
  std::array<char, 64> buffer;
  const auto size = read_whole_file(path.c_str(), buffer);
  ASSERT_TRUE(size);
  EXPECT_EQ(std::string_view(buffer.data(), *size), "max 100000\n");
}

TEST(ReadWholeFile, ReadsAnEmptyFile) {
  const test_support::TempDir dir;
  const std::string path = write_file(dir, "empty", "");
  std::array<char, 8> buffer;
  const auto empty = read_whole_file(path.c_str(), buffer);
  ASSERT_TRUE(empty);
  EXPECT_EQ(*empty, 0u);
}

// A file that fills the buffer may have been cut off, so it is refused rather than half read.
TEST(ReadWholeFile, RefusesAFileThatFillsTheBuffer) {
  const test_support::TempDir dir;
  std::array<char, 8> buffer;
  EXPECT_FALSE(read_whole_file(write_file(dir, "exact", "12345678").c_str(), buffer));
  EXPECT_FALSE(read_whole_file(write_file(dir, "longer", "123456789").c_str(), buffer));
  const auto fits = read_whole_file(write_file(dir, "fits", "1234567").c_str(), buffer);
  ASSERT_TRUE(fits);
  EXPECT_EQ(*fits, 7u);
}

TEST(ReadWholeFile, MissingFileOrDirectoryIsNullopt) {
  const test_support::TempDir dir;
  std::array<char, 64> buffer;
  const auto absent = read_whole_file((dir.path() / "absent").c_str(), buffer);
  EXPECT_FALSE(absent);
  EXPECT_EQ(absent.status().error_number(), ENOENT);
  EXPECT_FALSE(read_whole_file(dir.path().c_str(), buffer));  // read(2) on a directory fails
}

}  // namespace
}  // namespace base
