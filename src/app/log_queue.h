#pragma once
// LogQueue: finished log lines from any thread, written to one file descriptor by one writer thread, so a
// thread that logs never waits for the descriptor.
//
// push() copies a whole line into a fixed ring of bytes under a mutex held only for that copy; a line that
// does not fit whole is dropped and counted, never cut. The writer thread starts with the first line (a
// process that logs nothing starts no thread) and writes queued bytes in order with writev(2): the whole
// backlog at once on a non-blocking descriptor; on a blocking one at most PIPE_BUF bytes, ending on a line
// end, after poll(2) reported room, so its write cannot block (pipes, sockets, files). Lines from one thread
// keep their order and a line's bytes are never mixed with another's. After writing, the writer lingers a
// few milliseconds for more lines before it sleeps, so under a steady stream push() makes no wake-up call.
// Destruction writes what is still queued, gives up after the drain timeout if the descriptor stays full
// (lines left are dropped, never cut), and joins the writer.
//
// Memory: `capacity` bytes (1 MiB by default), allocated once with the first line, never grown, plus the
// writer thread's stack. It is a fixed cost paid from the process's fixed runtime reserve, not from any
// per-request budget. Pages become resident as the ring wraps through them.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>

namespace app {

class LogQueue {
 public:
  static constexpr std::size_t kDefaultCapacity = std::size_t{1} << 20;
  static constexpr std::chrono::milliseconds kDefaultDrainTimeout{2000};

  explicit LogQueue(int fd, std::size_t capacity = kDefaultCapacity,
                    std::chrono::milliseconds drain_timeout = kDefaultDrainTimeout) noexcept
      : fd_(fd), capacity_(capacity), drain_timeout_(drain_timeout) {}
  ~LogQueue();
  LogQueue(const LogQueue&) = delete;
  LogQueue& operator=(const LogQueue&) = delete;

  // Queues `line` (its trailing '\n' included) or drops it whole when it does not fit.
  void push(std::string_view line) noexcept;
  // Counts a line that never reached push() (it could not be formatted).
  void count_dropped() noexcept { dropped_.fetch_add(1, std::memory_order_relaxed); }

  // Lines that will never be written: queue full, no memory, or a descriptor that reported an error.
  std::uint64_t dropped_lines() const noexcept { return dropped_.load(std::memory_order_relaxed); }
  // Bytes queued and not yet written; never more than capacity().
  std::size_t queued_bytes() const noexcept;
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  using Clock = std::chrono::steady_clock;

  void start_writer_locked() noexcept;
  // The writer's loop: until stopped and empty, or stopped and past the deadline.
  void drain(std::unique_lock<std::mutex>& lock) noexcept;
  // One write of queued bytes from `head`; bytes written, 0 when the descriptor had no room within
  // `wait`, or -1 when it failed for good (errno set).
  long write_once(std::size_t head, std::size_t used, std::chrono::milliseconds wait) const noexcept;
  // Forgets the first `bytes` queued bytes, counting the lines that end in them as dropped.
  void discard_locked(std::size_t bytes) noexcept;

  const int fd_;
  const std::size_t capacity_;
  const std::chrono::milliseconds drain_timeout_;
  std::atomic<std::uint64_t> dropped_{0};

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  // Guarded by mutex_. Producers write only the free part of the ring; the writer reads the queued part
  // [head_, head_ + used_) without the lock, and only it moves head_.
  std::unique_ptr<char[]> ring_;
  std::size_t head_ = 0;
  std::size_t used_ = 0;
  bool writer_idle_ = false;
  bool stopping_ = false;
  Clock::time_point stop_deadline_{};
  std::thread writer_;
};

}  // namespace app
