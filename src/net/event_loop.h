#pragma once
// EventLoop: one thread's epoll instance plus timers and a cross-thread task queue (after Redis' ae).
//
// File events: register an fd with an IoHandler; the loop calls on_io() with the epoll event mask
// (level-triggered). Timers: run_after()/run_every() callbacks ordered by a min-heap and run between epoll
// batches on the loop thread. post() is the only thread-safe entry besides stop(): it queues a task and
// wakes the loop through an eventfd. Handlers may unregister and destroy themselves inside on_io(); an
// object that may still have an event pending in the current batch must be destroyed through defer(),
// which runs after the batch.
//
// Failure policy: no exception escapes run(). A timer, posted or deferred task that throws is reported
// to the error sink and the loop goes on; IoHandler::on_io is noexcept, so handlers catch their own.
#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"

namespace net {

class IoHandler {
 public:
  virtual void on_io(std::uint32_t events) noexcept = 0;

 protected:
  ~IoHandler() = default;
};

class EventLoop {
 public:
  using Clock = std::chrono::steady_clock;
  using Task = std::function<void()>;
  using TimerId = std::uint64_t;

  // An error when the kernel refuses an epoll or eventfd descriptor.
  static base::Result<std::unique_ptr<EventLoop>> create();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  bool add(int fd, std::uint32_t events, IoHandler* handler) noexcept;
  bool modify(int fd, std::uint32_t events, IoHandler* handler) noexcept;
  void remove(int fd) noexcept;

  TimerId run_after(Clock::duration delay, Task task);
  TimerId run_every(Clock::duration period, Task task);
  void cancel(TimerId id) noexcept;

  void defer(Task task);  // loop thread only: runs after the current batch of events

  void post(Task task);   // any thread
  void stop() noexcept;   // any thread: run() returns after the current iteration
  void run();             // until stop()

  // Time taken when epoll_wait last returned: cheap, and the same for every event of one batch.
  Clock::time_point now() const noexcept { return now_; }
  // The wall clock's second at the same moment (for Date headers).
  std::time_t wall_seconds() const noexcept { return wall_seconds_; }

  // Where exceptions thrown by timers and tasks are reported (default: ignored).
  void set_error_sink(std::function<void(std::string_view what)> sink) { error_sink_ = std::move(sink); }

 private:
  struct Timer {
    Clock::time_point due;
    TimerId id;
    bool operator>(const Timer& other) const noexcept { return due > other.due; }
  };
  struct TimerTask {
    Task task;
    Clock::duration period{};  // zero for one-shot timers
  };
  class WakeHandler;

  EventLoop(base::UniqueFd epoll_fd, base::UniqueFd wake_fd);
  int next_timeout_ms() const noexcept;
  void run_due_timers();
  void run_posted_tasks();
  void run_deferred_tasks();
  void run_guarded(Task& task) noexcept;
  void update_clocks() noexcept;

  base::UniqueFd epoll_fd_;
  base::UniqueFd wake_fd_;
  std::unique_ptr<WakeHandler> wake_handler_;
  std::atomic<bool> stop_requested_{false};
  Clock::time_point now_ = Clock::now();
  std::time_t wall_seconds_ = std::time(nullptr);
  std::function<void(std::string_view)> error_sink_;

  std::vector<Timer> timer_heap_;
  std::unordered_map<TimerId, TimerTask> timer_tasks_;
  TimerId next_timer_id_ = 1;

  std::vector<Task> deferred_;
  std::mutex posted_mutex_;
  std::vector<Task> posted_;
};

}  // namespace net
