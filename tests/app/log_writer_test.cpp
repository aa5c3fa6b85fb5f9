// The Logger's queue and writer thread: logging never waits for a full descriptor, drops are counted,
// lines stay whole and in order, and destruction drains within its bound.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "app/log.h"
#include "app/log_test_support.h"

namespace app {
namespace {

using namespace std::chrono_literals;
using log_test::after_timestamp;
using log_test::Pipe;
using log_test::PipeReader;
using log_test::split_lines;

bool set_nonblocking(int fd, bool nonblocking) {
  const int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && ::fcntl(fd, F_SETFL, nonblocking ? flags | O_NONBLOCK : flags & ~O_NONBLOCK) == 0;
}

// Polls `condition` until it holds or the deadline passes.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

void log_numbered(const Logger& logger, int thread, int seq, std::string_view payload) {
  logger.info("numbered", {{"thread", std::int64_t{thread}}, {"seq", std::int64_t{seq}}, {"payload", payload}});
}

// A numbered line after its timestamp; `payload` as it appears escaped.
std::string expected_numbered(int thread, int seq, std::string_view payload) {
  return R"("level":"info","event":"numbered","thread":)" + std::to_string(thread) + R"(,"seq":)" +
         std::to_string(seq) + R"(,"payload":")" + std::string(payload) + "\"}";
}

// Reads thread and seq back from a numbered line after its timestamp.
bool parse_numbered(std::string_view rest, int& thread, int& seq) {
  const auto number_after = [&rest](std::string_view key, int& value) {
    const std::size_t at = rest.find(key);
    if (at == std::string_view::npos) return false;
    const char* begin = rest.data() + at + key.size();
    return std::from_chars(begin, rest.data() + rest.size(), value).ec == std::errc{};
  };
  return number_after("\"thread\":", thread) && number_after("\"seq\":", seq);
}

// Payloads from short to longer than PIPE_BUF, so the writer splits some lines over several writes.
std::string payload_for(int thread, int seq) {
  constexpr std::size_t kSizes[] = {8, 300, 4000, 5000, 40};
  return std::string(kSizes[seq % 5], static_cast<char>('a' + thread % 26));
}

// Threads of this process named like the logger's writer.
int writer_threads() {
  int count = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task", error)) {
    std::ifstream comm(entry.path() / "comm");
    std::string name;
    if (std::getline(comm, name) && name == "log_writer") ++count;
  }
  return count;
}

std::size_t process_threads() {
  std::size_t count = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task", error)) {
    count += entry.is_directory() ? 1 : 0;
  }
  return count;
}

// Parameter: whether the pipe's write end is non-blocking (the writer then waits with poll after EAGAIN)
// or blocking (it polls first and writes at most PIPE_BUF bytes).
class LoggerOnPipe : public ::testing::TestWithParam<bool> {};

INSTANTIATE_TEST_SUITE_P(WriteEnd, LoggerOnPipe, ::testing::Values(false, true),
                         [](const auto& param) { return param.param ? "NonBlocking" : "Blocking"; });

TEST_P(LoggerOnPipe, LoggingToAFullPipeReturnsAndKeptLinesArriveWholeInOrder) {
  Pipe pipe;
  ASSERT_TRUE(set_nonblocking(pipe.write_end, GetParam()));
  const std::size_t filler = pipe.fill('#');
  ASSERT_GT(filler, 0u);
  constexpr std::size_t kQueueBytes = 64 * 1024;
  constexpr int kLines = 3000;
  auto logger = std::make_unique<Logger>(LogLevel::kInfo, pipe.write_end, kQueueBytes);
  // On the test thread, with nothing reading the pipe: a call that waited for room would never return.
  for (int i = 0; i < kLines; ++i) {
    log_numbered(*logger, 0, i, "say \"hi\"\n");
    ASSERT_LE(logger->queued_bytes(), kQueueBytes);
  }
  const std::uint64_t dropped = logger->dropped_lines();
  EXPECT_GT(dropped, 0u);
  ASSERT_LT(dropped, static_cast<std::uint64_t>(kLines));
  // The kept lines wait in the queue, which is full to within one line.
  EXPECT_GT(logger->queued_bytes(), kQueueBytes - 256);

  PipeReader reader(pipe.read_end);
  reader.start(1000);
  logger.reset();
  pipe.close_write();
  const std::string& out = reader.join();
  ASSERT_EQ(out.find_first_not_of('#'), filler);
  const std::vector<std::string> lines = split_lines(std::string_view(out).substr(filler));
  ASSERT_EQ(lines.size(), kLines - dropped);
  // Lines only grow longer with their number, so once one did not fit none after it did: the kept ones
  // are exactly the first.
  for (std::size_t i = 0; i < lines.size(); ++i) {
    ASSERT_EQ(after_timestamp(lines[i]), expected_numbered(0, static_cast<int>(i), R"(say \"hi\"\n)"));
  }
}

TEST_P(LoggerOnPipe, ManyThreadsKeepLinesWholeAndInOrderAndEveryLineIsAccountedFor) {
  constexpr int kThreads = 8;
  constexpr int kLinesPerThread = 1500;
  Pipe pipe;
  ASSERT_TRUE(set_nonblocking(pipe.write_end, GetParam()));
  // Reads of odd sizes: partial writes, lines split across reads, and a queue that overflows now and then.
  PipeReader reader(pipe.read_end);
  reader.start(7000);
  std::uint64_t dropped = 0;
  {
    const Logger logger(LogLevel::kInfo, pipe.write_end, 256 * 1024);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&logger, t] {
        for (int i = 0; i < kLinesPerThread; ++i) log_numbered(logger, t, i, payload_for(t, i));
      });
    }
    for (std::thread& thread : threads) thread.join();
    ASSERT_TRUE(eventually([&logger] { return logger.queued_bytes() == 0; }));
    dropped = logger.dropped_lines();
  }
  pipe.close_write();
  const std::vector<std::string> lines = split_lines(reader.join());
  EXPECT_EQ(lines.size() + dropped, static_cast<std::size_t>(kThreads * kLinesPerThread));
  std::vector<int> last_seq(kThreads, -1);
  for (const std::string& line : lines) {
    const std::string rest = after_timestamp(line);
    int thread = -1;
    int seq = -1;
    ASSERT_TRUE(parse_numbered(rest, thread, seq)) << rest.substr(0, 200);
    ASSERT_TRUE(thread >= 0 && thread < kThreads && seq >= 0 && seq < kLinesPerThread) << rest.substr(0, 200);
    ASSERT_EQ(rest, expected_numbered(thread, seq, payload_for(thread, seq)));
    ASSERT_GT(seq, last_seq[thread]) << "thread " << thread << " out of order";
    last_seq[thread] = seq;
  }
}

TEST_P(LoggerOnPipe, DestructionGivesUpWhenThePipeStaysFull) {
  Pipe pipe;
  ASSERT_TRUE(set_nonblocking(pipe.write_end, GetParam()));
  const std::size_t filler = pipe.fill('#');
  ASSERT_GT(filler, 0u);
  auto logger = std::make_unique<Logger>(LogLevel::kInfo, pipe.write_end, LogQueue::kDefaultCapacity, 100ms);
  for (int i = 0; i < 50; ++i) log_numbered(*logger, 0, i, payload_for(0, i));
  std::promise<void> destroyed;
  std::future<void> done = destroyed.get_future();
  std::thread destroyer([&] {
    logger.reset();
    destroyed.set_value();
  });
  const bool bounded = done.wait_for(30s) == std::future_status::ready;
  EXPECT_TRUE(bounded) << "destruction did not give up on a full pipe";
  // Reading frees a destructor that did not give up, so the test ends either way.
  PipeReader reader(pipe.read_end);
  reader.start();
  destroyer.join();
  pipe.close_write();
  // Nothing was written after the filler: the queued lines were given up whole, none cut short.
  if (bounded) {
    EXPECT_EQ(reader.join(), std::string(filler, '#'));
  }
}

TEST(LoggerWriter, DestructionWritesQueuedLinesOnceThePipeHasRoom) {
  Pipe pipe;
  const std::size_t filler = pipe.fill('#');
  ASSERT_GT(filler, 0u);
  auto logger = std::make_unique<Logger>(LogLevel::kInfo, pipe.write_end, LogQueue::kDefaultCapacity, 60s);
  constexpr int kLines = 200;
  for (int i = 0; i < kLines; ++i) log_numbered(*logger, 0, i, payload_for(0, i));
  EXPECT_EQ(logger->dropped_lines(), 0u);
  EXPECT_GT(logger->queued_bytes(), 0u);  // the pipe has no room, so all of it still waits
  std::thread destroyer([&logger] { logger.reset(); });
  PipeReader reader(pipe.read_end);
  reader.start();
  destroyer.join();
  pipe.close_write();
  const std::string& out = reader.join();
  ASSERT_EQ(out.find_first_not_of('#'), filler);
  const std::vector<std::string> lines = split_lines(std::string_view(out).substr(filler));
  ASSERT_EQ(lines.size(), static_cast<std::size_t>(kLines));
  for (int i = 0; i < kLines; ++i) EXPECT_EQ(after_timestamp(lines[i]), expected_numbered(0, i, payload_for(0, i)));
}

TEST(LoggerWriter, LinesLoggedJustBeforeDestructionAreWritten) {
  // The writer thread is started by the first line and may not have run at all when destruction begins.
  for (int round = 0; round < 20; ++round) {
    Pipe pipe;
    PipeReader reader(pipe.read_end);
    reader.start();
    {
      const Logger logger(LogLevel::kInfo, pipe.write_end);
      log_numbered(logger, 0, round, "last words");
    }
    pipe.close_write();
    const std::vector<std::string> lines = split_lines(reader.join());
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(after_timestamp(lines[0]), expected_numbered(0, round, "last words"));
  }
}

TEST(LoggerWriter, StartsItsThreadWithTheFirstQueuedLine) {
  ASSERT_TRUE(eventually([] { return writer_threads() == 0; }));
  const std::size_t before = process_threads();
  Pipe pipe;
  {
    const Logger logger(LogLevel::kWarn, pipe.write_end);
    logger.info("filtered");
    EXPECT_EQ(writer_threads(), 0);
    EXPECT_LE(process_threads(), before);
    logger.warn("first");
    EXPECT_TRUE(eventually([] { return writer_threads() == 1; }));
    logger.warn("second");
    EXPECT_EQ(writer_threads(), 1);
  }
  EXPECT_TRUE(eventually([] { return writer_threads() == 0; }));
  EXPECT_EQ(split_lines(pipe.drain()).size(), 2u);
}

TEST(LoggerWriter, ALineLargerThanTheQueueIsDroppedWhole) {
  Pipe pipe;
  {
    const Logger logger(LogLevel::kInfo, pipe.write_end, 4096);
    log_numbered(logger, 0, 0, std::string(5000, 'x'));
    EXPECT_EQ(logger.dropped_lines(), 1u);
    EXPECT_EQ(logger.queued_bytes(), 0u);
    log_numbered(logger, 0, 1, "fits");
  }
  const std::vector<std::string> lines = split_lines(pipe.drain());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(after_timestamp(lines[0]), expected_numbered(0, 1, "fits"));
}

TEST(LoggerWriter, LinesThatCannotBeWrittenAreCountedAsDropped) {
  Pipe pipe;
  ::close(pipe.read_end);  // every write now fails with EPIPE; the writer blocks SIGPIPE
  pipe.read_end = -1;
  const Logger logger(LogLevel::kInfo, pipe.write_end);
  for (int i = 0; i < 5; ++i) log_numbered(logger, 0, i, "lost");
  EXPECT_TRUE(eventually([&logger] { return logger.dropped_lines() == 5; })) << logger.dropped_lines();
  EXPECT_EQ(logger.queued_bytes(), 0u);
}

TEST(LoggerWriter, ResumesPartialWritesOnANonBlockingPipe) {
  Pipe pipe;
  // A small non-blocking pipe makes write(2) accept only part of the line and then report EAGAIN.
  ASSERT_GE(::fcntl(pipe.write_end, F_SETPIPE_SZ, 4096), 0);
  ASSERT_TRUE(set_nonblocking(pipe.write_end, true));
  PipeReader reader(pipe.read_end);
  reader.start(1000);
  std::string payload(300000, 'x');
  for (std::size_t i = 0; i < payload.size(); i += 997) payload[i] = static_cast<char>('a' + i % 26);
  {
    const Logger logger(LogLevel::kInfo, pipe.write_end);
    logger.info("big", {{"payload", std::string_view(payload)}});
  }
  pipe.close_write();
  const std::vector<std::string> lines = split_lines(reader.join());
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(after_timestamp(lines[0]), R"("level":"info","event":"big","payload":")" + payload + "\"}");
}

}  // namespace
}  // namespace app
