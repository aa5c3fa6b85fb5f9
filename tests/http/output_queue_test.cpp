// OutputQueue with values in memory files: gathering stops before such a slice and says one follows, the
// slice is offered with its file, offset and length, and partial sends move through it in order.
#include "http/output_queue.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <string>

#include "base/shared_bytes.h"
#include "base/value_files.h"

namespace http {
namespace {

constexpr std::size_t kMin = 64 * 1024;

std::string pattern(std::size_t n, char base) {
  std::string bytes(n, '\0');
  for (std::size_t i = 0; i < n; ++i) bytes[i] = static_cast<char>(base + i % 23);
  return bytes;
}

// What the peer receives when the server writes at most `step` bytes per call: iovecs by sendmsg, slices
// in files by sendfile (here read back with pread, which reads what sendfile would).
std::string drain(OutputQueue& out, std::size_t step, int* file_sends = nullptr) {
  std::string text;
  while (!out.empty()) {
    if (const std::optional<OutputQueue::FileSlice> file = out.front_file_slice()) {
      std::string piece(std::min(step, file->length), '\0');
      const ssize_t n = ::pread(file->fd, piece.data(), piece.size(), static_cast<off_t>(file->offset));
      EXPECT_EQ(n, static_cast<ssize_t>(piece.size()));
      text += piece;
      out.consume(piece.size());
      if (file_sends != nullptr) ++*file_sends;
      continue;
    }
    iovec iov[8];
    bool file_follows = false;
    const std::size_t count = out.gather(iov, &file_follows);
    EXPECT_GT(count, 0u);
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < count && bytes < step; ++i) {
      const std::size_t take = std::min(step - bytes, iov[i].iov_len);
      text.append(static_cast<const char*>(iov[i].iov_base), take);
      bytes += take;
    }
    out.consume(bytes);
  }
  return text;
}

TEST(OutputQueueFiles, HeadThenFileSliceThenOwnedBytesArriveInOrder) {
  base::ValueFiles files(4, kMin);
  const std::string value = pattern(300 * 1000, 'a');
  const base::SharedBytes stored = base::SharedBytes::copy_of(value, nullptr, &files);
  ASSERT_TRUE(stored.file_backed());
  for (std::size_t step : {std::size_t{1000}, std::size_t{65536}, std::size_t{1} << 20}) {
    OutputQueue out;
    ASSERT_TRUE(out.append("HEAD\r\n\r\n"));
    ASSERT_TRUE(out.reserve_shared_slice());
    out.append_reserved_shared(stored, stored.view().substr(10, 250000));
    ASSERT_TRUE(out.append("NEXT"));
    // The head is gathered alone, flagged as followed by a file slice (sent with MSG_MORE).
    iovec iov[8];
    bool file_follows = false;
    ASSERT_EQ(out.gather(iov, &file_follows), 1u);
    EXPECT_TRUE(file_follows);
    EXPECT_EQ(std::string_view(static_cast<const char*>(iov[0].iov_base), iov[0].iov_len), "HEAD\r\n\r\n");
    EXPECT_FALSE(out.front_file_slice().has_value()) << "the head comes first";
    int file_sends = 0;
    EXPECT_EQ(drain(out, step, &file_sends), "HEAD\r\n\r\n" + value.substr(10, 250000) + "NEXT") << step;
    EXPECT_GE(file_sends, 1);
    EXPECT_EQ(out.shared_slices(), 0u);
  }
}

TEST(OutputQueueFiles, TheSliceReportsWhereItsNextByteIs) {
  base::ValueFiles files(4, kMin);
  const base::SharedBytes stored = base::SharedBytes::copy_of(pattern(200 * 1000, 'k'), nullptr, &files);
  OutputQueue out;
  ASSERT_TRUE(out.reserve_shared_slice());
  out.append_reserved_shared(stored, stored.view().substr(5000, 100000));
  const std::optional<OutputQueue::FileSlice> first = out.front_file_slice();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->length, 100000u);
  out.consume(4096);
  const std::optional<OutputQueue::FileSlice> next = out.front_file_slice();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->fd, first->fd);
  EXPECT_EQ(next->offset, first->offset + 4096);
  EXPECT_EQ(next->length, 100000u - 4096);
  iovec iov[4];
  EXPECT_EQ(out.gather(iov), 0u) << "a file slice is never gathered";
}

TEST(OutputQueueFiles, HeapValuesAreStillGathered) {
  const base::SharedBytes stored = base::SharedBytes::copy_of(pattern(100 * 1000, 'q'));
  ASSERT_FALSE(stored.file_backed());
  OutputQueue out;
  ASSERT_TRUE(out.append("H"));
  ASSERT_TRUE(out.reserve_shared_slice());
  out.append_reserved_shared(stored, stored.view());
  iovec iov[8];
  bool file_follows = true;
  EXPECT_EQ(out.gather(iov, &file_follows), 2u);
  EXPECT_FALSE(file_follows);
  EXPECT_FALSE(out.front_file_slice().has_value());
}

}  // namespace
}  // namespace http
