#pragma once
// Shared by the logger tests: a pipe to log into, and checks on the lines that come out of it.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstddef>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace app::log_test {

// The fixed part of a line before the timestamp, and the length of "2026-11-24T01:42:33.123Z".
constexpr std::string_view kLinePrefix = "{\"ts\":\"";
constexpr std::size_t kTimestampLength = 24;

struct Pipe {
  int read_end = -1;
  int write_end = -1;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) == 0) {
      read_end = fds[0];
      write_end = fds[1];
    }
  }
  ~Pipe() {
    close_write();
    if (read_end >= 0) ::close(read_end);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  void close_write() {
    if (write_end >= 0) ::close(write_end);
    write_end = -1;
  }
  // Everything written so far; the write end is closed first so the read ends at EOF.
  std::string drain() {
    close_write();
    std::string out;
    char buffer[65536];
    ssize_t got = 0;
    while ((got = ::read(read_end, buffer, sizeof buffer)) > 0) out.append(buffer, static_cast<std::size_t>(got));
    return out;
  }
  // Shrinks the pipe to one page and writes `filler` bytes until it has no room left, leaving the write
  // end's blocking mode as it was. Returns the number of filler bytes, or 0 on failure.
  std::size_t fill(char filler = '#') {
    if (::fcntl(write_end, F_SETPIPE_SZ, 4096) < 0) return 0;
    const int flags = ::fcntl(write_end, F_GETFL);
    if (flags < 0 || ::fcntl(write_end, F_SETFL, flags | O_NONBLOCK) != 0) return 0;
    std::size_t total = 0;
    const std::string chunk(512, filler);
    for (std::size_t size : {chunk.size(), std::size_t{1}}) {
      ssize_t written = 0;
      while ((written = ::write(write_end, chunk.data(), size)) > 0) total += static_cast<std::size_t>(written);
      if (errno != EAGAIN) return 0;
    }
    if (::fcntl(write_end, F_SETFL, flags) != 0) return 0;
    return total;
  }
};

// Reads a pipe to its end on a thread of its own, once started.
class PipeReader {
 public:
  explicit PipeReader(int fd) : fd_(fd) {}
  ~PipeReader() { join(); }
  PipeReader(const PipeReader&) = delete;
  PipeReader& operator=(const PipeReader&) = delete;
  // `chunk` bytes per read: small reads make the writer resume many partial writes.
  void start(std::size_t chunk = 65536) {
    thread_ = std::thread([this, chunk] {
      std::vector<char> buffer(chunk);
      ssize_t got = 0;
      while ((got = ::read(fd_, buffer.data(), buffer.size())) > 0) {
        out_.append(buffer.data(), static_cast<std::size_t>(got));
      }
    });
  }
  // Everything read; the pipe's write end must be closed by then.
  const std::string& join() {
    if (thread_.joinable()) thread_.join();
    return out_;
  }

 private:
  int fd_;
  std::string out_;
  std::thread thread_;
};

inline std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find('\n', start);
    if (end == std::string::npos) {
      lines.push_back(std::string(text.substr(start)) + "<no newline>");
      break;
    }
    lines.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

inline bool all_digits(std::string_view text) {
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return !text.empty();
}

// Checks the line is {"ts":"<timestamp>",<rest> and returns <rest>, or "<bad line>" with a test failure.
inline std::string after_timestamp(const std::string& line) {
  if (line.size() < kLinePrefix.size() + kTimestampLength + 2 || line.rfind(kLinePrefix, 0) != 0) {
    ADD_FAILURE() << "bad line: " << line.substr(0, 200);
    return "<bad line>";
  }
  const std::string_view ts = std::string_view(line).substr(kLinePrefix.size(), kTimestampLength);
  const bool shape = all_digits(ts.substr(0, 4)) && ts[4] == '-' && all_digits(ts.substr(5, 2)) && ts[7] == '-' &&
                     all_digits(ts.substr(8, 2)) && ts[10] == 'T' && all_digits(ts.substr(11, 2)) &&
                     ts[13] == ':' && all_digits(ts.substr(14, 2)) && ts[16] == ':' &&
                     all_digits(ts.substr(17, 2)) && ts[19] == '.' && all_digits(ts.substr(20, 3)) && ts[23] == 'Z';
  EXPECT_TRUE(shape) << ts;
  EXPECT_EQ(line.substr(kLinePrefix.size() + kTimestampLength, 2), "\",");
  return line.substr(kLinePrefix.size() + kTimestampLength + 2);
}

}  // namespace app::log_test
