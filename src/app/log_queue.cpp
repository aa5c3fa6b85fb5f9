#include "app/log_queue.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

namespace app {
namespace {

// How often a writer waiting for room looks whether the queue is being destroyed.
constexpr std::chrono::milliseconds kPollSlice{250};
// How long the writer lingers for more lines after writing before it sleeps until woken. Lines wait at most
// this long; a queue that fills faster than half its capacity in this time wakes the writer early.
constexpr std::chrono::milliseconds kBatchWindow{5};

bool wait_writable(int fd, std::chrono::milliseconds wait) noexcept {
  pollfd writable{fd, POLLOUT, 0};
  int ready = 0;
  do {
    ready = ::poll(&writable, 1, static_cast<int>(wait.count()));
  } while (ready < 0 && errno == EINTR);
  // POLLERR or POLLHUP count as ready: the write that follows reports the error.
  return ready > 0;
}

}  // namespace

LogQueue::~LogQueue() {
  std::unique_lock lock(mutex_);
  stopping_ = true;
  stop_deadline_ = Clock::now() + drain_timeout_;
  if (writer_.joinable()) {
    lock.unlock();
    wake_.notify_one();
    writer_.join();
  } else if (used_ != 0) {
    // No writer thread could be started: this thread writes what was queued, under the same bound.
    drain(lock);
  }
}

void LogQueue::push(std::string_view line) noexcept {
  if (line.empty()) return;
  bool wake = false;
  {
    const std::lock_guard lock(mutex_);
    // Allocated on first use, so a process that never logs never pays for it.
    if (!ring_) ring_.reset(new (std::nothrow) char[capacity_]);
    if (!ring_ || line.size() > capacity_ - used_) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const std::size_t tail = (head_ + used_) % capacity_;
    const std::size_t first = std::min(line.size(), capacity_ - tail);
    std::memcpy(ring_.get() + tail, line.data(), first);
    std::memcpy(ring_.get(), line.data() + first, line.size() - first);
    const bool crossed_half = used_ < capacity_ / 2 && used_ + line.size() >= capacity_ / 2;
    used_ += line.size();
    // A writer that cannot be started now is retried with the next line; what is queued meanwhile stays.
    if (!writer_.joinable()) start_writer_locked();
    // The writer needs a call only when asleep, or lingering while the queue passes half full.
    wake = writer_idle_ || crossed_half;
    writer_idle_ = false;
  }
  if (wake) wake_.notify_one();
}

std::size_t LogQueue::queued_bytes() const noexcept {
  const std::lock_guard lock(mutex_);
  return used_;
}

void LogQueue::start_writer_locked() noexcept {
  // The writer blocks every signal: a process-directed signal (SIGTERM for the server's signalfd) must
  // never be delivered to it, and a write to a closed pipe then fails with EPIPE instead of raising
  // SIGPIPE. Blocking here rather than in the thread leaves no window.
  sigset_t all;
  sigset_t previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  try {
    writer_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "log_writer");
      std::unique_lock lock(mutex_);
      drain(lock);
    });
  } catch (...) {
    // No thread (resource limits): the lines stay queued for the next attempt or for the destructor.
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

void LogQueue::drain(std::unique_lock<std::mutex>& lock) noexcept {
  for (;;) {
    if (used_ == 0) {
      if (stopping_) return;
      // Linger before sleeping until woken: lines that arrive meanwhile are written when the window ends,
      // so a steady stream of lines costs the threads that log them no wake-up call. Only a queue filling
      // past half, or destruction, ends the window early.
      wake_.wait_for(lock, kBatchWindow, [this] { return used_ >= capacity_ / 2 || stopping_; });
      if (used_ == 0 && !stopping_) {
        writer_idle_ = true;
        wake_.wait(lock, [this] { return used_ != 0 || stopping_; });
        writer_idle_ = false;
      }
      continue;
    }
    std::chrono::milliseconds wait = kPollSlice;
    if (stopping_) {
      const Clock::time_point now = Clock::now();
      if (now >= stop_deadline_) {
        discard_locked(used_);
        return;
      }
      wait = std::min(wait, std::chrono::ceil<std::chrono::milliseconds>(stop_deadline_ - now));
    }
    const std::size_t head = head_;
    const std::size_t used = used_;
    lock.unlock();
    const long written = write_once(head, used, wait);
    lock.lock();
    if (written > 0) {
      head_ = (head_ + static_cast<std::size_t>(written)) % capacity_;
      used_ -= static_cast<std::size_t>(written);
    } else if (written < 0) {
      // EPIPE, EBADF, ENOSPC...: waiting will not help these bytes; later lines get their own attempt.
      discard_locked(used);
    }
  }
}

long LogQueue::write_once(std::size_t head, std::size_t used, std::chrono::milliseconds wait) const noexcept {
  const int flags = ::fcntl(fd_, F_GETFL);
  if (flags < 0) return -1;
  const bool blocking = (flags & O_NONBLOCK) == 0;
  std::size_t count = used;
  if (blocking) {
    // A blocking write(2) could outlast any deadline; after poll(2) reported room, one of at most PIPE_BUF
    // bytes fits without waiting.
    if (!wait_writable(fd_, wait)) return 0;
    if (count > PIPE_BUF) {
      // End on the last line end within PIPE_BUF bytes, so lines that short stay atomic on a shared pipe.
      count = PIPE_BUF;
      const std::size_t first = std::min(count, capacity_ - head);
      const void* end = nullptr;
      if (count > first) end = ::memrchr(ring_.get(), '\n', count - first);
      if (end != nullptr) {
        count = first + static_cast<std::size_t>(static_cast<const char*>(end) - ring_.get()) + 1;
      } else if ((end = ::memrchr(ring_.get() + head, '\n', first)) != nullptr) {
        count = static_cast<std::size_t>(static_cast<const char*>(end) - (ring_.get() + head)) + 1;
      }
    }
  }
  const std::size_t first = std::min(count, capacity_ - head);
  iovec parts[2] = {{ring_.get() + head, first}, {ring_.get(), count - first}};
  const int part_count = count > first ? 2 : 1;
  bool waited = blocking;
  for (;;) {
    const ssize_t written = ::writev(fd_, parts, part_count);
    if (written > 0) return static_cast<long>(written);
    if (written < 0 && errno == EINTR) continue;
    if (written < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return -1;
    if (waited || !wait_writable(fd_, wait)) return 0;
    waited = true;
  }
}

void LogQueue::discard_locked(std::size_t bytes) noexcept {
  const std::size_t first = std::min(bytes, capacity_ - head_);
  const char* const ring = ring_.get();
  const std::size_t lines = static_cast<std::size_t>(std::count(ring + head_, ring + head_ + first, '\n') +
                                                     std::count(ring, ring + (bytes - first), '\n'));
  dropped_.fetch_add(lines, std::memory_order_relaxed);
  head_ = (head_ + bytes) % capacity_;
  used_ -= bytes;
}

}  // namespace app
