// Large values in memory files: the bytes, the charge, the descriptor and the allowance, from the first
// byte received to the last reference; and what sendfile() reads at the location a slice reports.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "base/shared_bytes.h"
#include "base/value_files.h"

namespace base {
namespace {

constexpr std::size_t kMin = 64 * 1024;

std::size_t open_descriptors() {
  std::size_t count = 0;
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  while (::readdir(dir) != nullptr) ++count;
  ::closedir(dir);
  return count;
}

std::string pattern(std::size_t n) {
  std::string bytes(n, '\0');
  for (std::size_t i = 0; i < n; ++i) bytes[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  return bytes;
}

std::string read_at(int fd, std::uint64_t offset, std::size_t length) {
  std::string out(length, '\0');
  const ssize_t n = ::pread(fd, out.data(), length, static_cast<off_t>(offset));
  out.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
  return out;
}

TEST(ValueFiles, AllowanceIsCountedAndCapped) {
  ValueFiles files(2, kMin);
  EXPECT_TRUE(files.try_acquire());
  EXPECT_TRUE(files.try_acquire());
  EXPECT_FALSE(files.try_acquire());
  EXPECT_EQ(files.in_use(), 2u);
  EXPECT_EQ(files.refusals(), 1u);
  files.release();
  EXPECT_TRUE(files.try_acquire());
}

TEST(ValueFiles, SmallBodiesStayOnTheHeap) {
  ValueFiles files(4, kMin);
  ByteBuilder builder(nullptr, &files);
  ASSERT_TRUE(builder.reserve_more(kMin - 1, kMin - 1));
  EXPECT_FALSE(builder.file_backed());
  EXPECT_EQ(files.in_use(), 0u);
  builder.append(std::string(kMin - 1, 'x'));
  const SharedBytes value = std::move(builder).freeze();
  EXPECT_FALSE(value.file_backed());
  EXPECT_FALSE(value.file_location(value.data()).has_value());
}

TEST(ValueFiles, ALargeBodyIsReceivedIntoAFileAndSentFromIt) {
  ValueFiles files(4, kMin);
  MemoryAccount account(8 << 20);
  const std::size_t before_fds = open_descriptors();
  const std::string bytes = pattern(1 << 20);
  {
    ByteBuilder builder(&account, &files);
    ASSERT_TRUE(builder.reserve_more(bytes.size(), bytes.size()));
    EXPECT_TRUE(builder.file_backed());
    EXPECT_EQ(files.in_use(), 1u);
    // The charge covers the mapped pages and the file's kernel cost, never less than the bytes.
    EXPECT_GE(account.used(), bytes.size() + 2048);
    EXPECT_LE(account.used(), bytes.size() + 64 + 4096 + 2048);
    builder.append(bytes);
    SharedBytes value = std::move(builder).freeze();
    ASSERT_TRUE(value);
    EXPECT_TRUE(value.file_backed());
    EXPECT_EQ(value.view(), bytes);
    EXPECT_EQ(value.charged_bytes(), account.used());
    EXPECT_EQ(open_descriptors(), before_fds + 1);
    // What sendfile() would read: the file at the reported offset holds the same bytes, for any slice.
    for (std::size_t start : {std::size_t{0}, std::size_t{1}, std::size_t{4095}, std::size_t{777777}}) {
      const std::optional<SharedBytes::FileLocation> at = value.file_location(value.data() + start);
      ASSERT_TRUE(at.has_value());
      EXPECT_EQ(read_at(at->fd, at->offset, 5000), bytes.substr(start, 5000)) << start;
    }
    const SharedBytes reader = value;  // a slow client's reference
    value = SharedBytes();
    EXPECT_EQ(files.in_use(), 1u);
    EXPECT_EQ(reader.view(), bytes);
  }
  EXPECT_EQ(files.in_use(), 0u);
  EXPECT_EQ(account.used(), 0u);
  EXPECT_EQ(open_descriptors(), before_fds);
}

TEST(ValueFiles, AGrowingBodyMovesIntoAFileOnceAndKeepsItsBytes) {
  ValueFiles files(4, kMin);
  MemoryAccount account(8 << 20);
  ByteBuilder builder(&account, &files);
  const std::string bytes = pattern(700 * 1000 + 3);
  std::size_t written = 0;
  while (written < bytes.size()) {  // as a chunked upload arrives, in uneven pieces
    const std::size_t piece = std::min<std::size_t>(bytes.size() - written, 1000 + written % 9000);
    ASSERT_TRUE(builder.reserve_more(piece));
    builder.append(std::string_view(bytes).substr(written, piece));
    written += piece;
    EXPECT_EQ(builder.file_backed(), builder.capacity() >= kMin) << written;
  }
  EXPECT_EQ(files.in_use(), 1u);
  const SharedBytes value = std::move(builder).freeze();
  EXPECT_EQ(value.view(), bytes);
  // Trimmed to the pages the bytes need.
  EXPECT_LE(value.charged_bytes(), bytes.size() + 64 + 4096 + 2048);
  EXPECT_EQ(account.used(), value.charged_bytes());
}

TEST(ValueFiles, PastTheAllowanceValuesStayOnTheHeap) {
  ValueFiles files(1, kMin);
  ByteBuilder first(nullptr, &files);
  ByteBuilder second(nullptr, &files);
  ASSERT_TRUE(first.reserve_more(kMin));
  ASSERT_TRUE(second.reserve_more(kMin));
  EXPECT_TRUE(first.file_backed());
  EXPECT_FALSE(second.file_backed());
  EXPECT_EQ(files.refusals(), 1u);
  second.append(std::string(kMin, 'y'));
  EXPECT_EQ(std::move(second).freeze().view(), std::string(kMin, 'y'));
  first.clear();
  EXPECT_EQ(files.in_use(), 0u);
}

TEST(ValueFiles, AFileTheBudgetCannotPayForIsNotCreated) {
  ValueFiles files(4, kMin);
  MemoryAccount account(kMin);  // the bytes fit, the pages and the file's kernel cost do not
  ByteBuilder builder(&account, &files);
  EXPECT_FALSE(builder.reserve_more(kMin, kMin));
  EXPECT_EQ(files.in_use(), 0u);
  EXPECT_EQ(account.used(), 0u);
}

TEST(ValueFiles, CopyOfALargeValueUsesAFile) {
  ValueFiles files(4, kMin);
  const std::string bytes = pattern(300 * 1000);
  const SharedBytes value = SharedBytes::copy_of(bytes, nullptr, &files);
  EXPECT_TRUE(value.file_backed());
  EXPECT_EQ(value.view(), bytes);
  EXPECT_EQ(SharedBytes::largest_charge(bytes.size(), nullptr), SharedBytes::header_bytes() + bytes.size());
  EXPECT_LE(value.charged_bytes(), SharedBytes::largest_charge(bytes.size(), &files));
}

TEST(ValueFiles, MovedBuildersKeepTheirFile) {
  ValueFiles files(4, kMin);
  ByteBuilder a(nullptr, &files);
  ASSERT_TRUE(a.reserve_more(kMin, kMin));
  a.append(std::string(kMin, 'z'));
  ByteBuilder b = std::move(a);
  EXPECT_TRUE(b.file_backed());
  EXPECT_FALSE(a.file_backed());
  ByteBuilder c(nullptr, &files);
  c = std::move(b);
  EXPECT_EQ(c.view(), std::string(kMin, 'z'));
  EXPECT_EQ(files.in_use(), 1u);
  c.clear();
  EXPECT_EQ(files.in_use(), 0u);
}

TEST(ValueFiles, ConcurrentReferencesCloseTheFileExactlyOnce) {
  ValueFiles files(4, kMin);
  const std::size_t before_fds = open_descriptors();
  SharedBytes value = SharedBytes::copy_of(pattern(kMin * 2), nullptr, &files);
  ASSERT_TRUE(value.file_backed());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([copy = value] {
      for (int i = 0; i < 10000; ++i) {
        SharedBytes again = copy;
        ASSERT_EQ(again.size(), kMin * 2);
      }
    });
  }
  value = SharedBytes();
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(files.in_use(), 0u);
  EXPECT_EQ(open_descriptors(), before_fds);
}

}  // namespace
}  // namespace base
