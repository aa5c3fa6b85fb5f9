#include "net/event_loop.h"

#include <sys/eventfd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <exception>
#include <time.h>

namespace net {

class EventLoop::WakeHandler final : public IoHandler {
 public:
  explicit WakeHandler(EventLoop& loop) noexcept : loop_(loop) {}
  void on_io(std::uint32_t) noexcept override {
    std::uint64_t count = 0;
    // Draining the counter re-arms the level-triggered eventfd; the tasks themselves run after the batch.
    [[maybe_unused]] ssize_t n = ::read(loop_.wake_fd_.get(), &count, sizeof count);
  }

 private:
  EventLoop& loop_;
};

base::Result<std::unique_ptr<EventLoop>> EventLoop::create() {
  base::UniqueFd epoll_fd(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll_fd) return base::Status::from_errno("epoll_create1", errno);
  base::UniqueFd wake_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_fd) return base::Status::from_errno("eventfd", errno);
  std::unique_ptr<EventLoop> loop(new EventLoop(std::move(epoll_fd), std::move(wake_fd)));
  if (!loop->add(loop->wake_fd_.get(), EPOLLIN, loop->wake_handler_.get())) {
    return base::Status::from_errno("epoll_ctl(eventfd)", errno);
  }
  return loop;
}

EventLoop::EventLoop(base::UniqueFd epoll_fd, base::UniqueFd wake_fd)
    : epoll_fd_(std::move(epoll_fd)), wake_fd_(std::move(wake_fd)),
      wake_handler_(std::make_unique<WakeHandler>(*this)) {}

EventLoop::~EventLoop() = default;

bool EventLoop::add(int fd, std::uint32_t events, IoHandler* handler) noexcept {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  return ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool EventLoop::modify(int fd, std::uint32_t events, IoHandler* handler) noexcept {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  return ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_MOD, fd, &ev) == 0;
}

void EventLoop::remove(int fd) noexcept { ::epoll_ctl(epoll_fd_.get(), EPOLL_CTL_DEL, fd, nullptr); }

EventLoop::TimerId EventLoop::run_after(Clock::duration delay, Task task) {
  const TimerId id = next_timer_id_++;
  timer_tasks_.emplace(id, TimerTask{std::move(task), Clock::duration::zero()});
  timer_heap_.push_back(Timer{Clock::now() + delay, id});
  std::push_heap(timer_heap_.begin(), timer_heap_.end(), std::greater<>());
  return id;
}

EventLoop::TimerId EventLoop::run_every(Clock::duration period, Task task) {
  const TimerId id = run_after(period, std::move(task));
  timer_tasks_.at(id).period = period;
  return id;
}

// The heap entry stays until it is due; it is skipped then because its task is gone.
void EventLoop::cancel(TimerId id) noexcept { timer_tasks_.erase(id); }

void EventLoop::defer(Task task) { deferred_.push_back(std::move(task)); }

void EventLoop::post(Task task) {
  bool was_empty = false;
  {
    std::lock_guard lock(posted_mutex_);
    was_empty = posted_.empty();
    posted_.push_back(std::move(task));
  }
  // A queue that held tasks already has a wake-up on its way, and run_posted_tasks() takes them all: one
  // eventfd write per burst (a batch of log completions for one loop), not one per task.
  if (!was_empty) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
}

void EventLoop::stop() noexcept {
  stop_requested_.store(true, std::memory_order_release);
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
}

int EventLoop::next_timeout_ms() const noexcept {
  if (!deferred_.empty()) return 0;
  if (timer_heap_.empty()) return -1;
  const auto wait = timer_heap_.front().due - Clock::now();
  if (wait <= Clock::duration::zero()) return 0;
  // Round up so a timer never fires early and the loop never spins on a sub-millisecond remainder.
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
  return static_cast<int>(std::min<decltype(ms)>(ms, 60'000));
}

void EventLoop::run_guarded(Task& task) noexcept {
  try {
    task();
  } catch (const std::exception& error) {
    if (error_sink_) error_sink_(error.what());
  } catch (...) {
    if (error_sink_) error_sink_("unknown exception");
  }
}

void EventLoop::update_clocks() noexcept {
  now_ = Clock::now();
  timespec wall{};
  ::clock_gettime(CLOCK_REALTIME_COARSE, &wall);
  wall_seconds_ = wall.tv_sec;
}

void EventLoop::run_due_timers() {
  const auto now = Clock::now();
  while (!timer_heap_.empty() && timer_heap_.front().due <= now) {
    std::pop_heap(timer_heap_.begin(), timer_heap_.end(), std::greater<>());
    const Timer timer = timer_heap_.back();
    timer_heap_.pop_back();
    auto it = timer_tasks_.find(timer.id);
    if (it == timer_tasks_.end()) continue;
    if (it->second.period == Clock::duration::zero()) {
      Task task = std::move(it->second.task);
      timer_tasks_.erase(it);
      run_guarded(task);
    } else {
      timer_heap_.push_back(Timer{now + it->second.period, timer.id});
      std::push_heap(timer_heap_.begin(), timer_heap_.end(), std::greater<>());
      // Copy: the task may cancel its own timer, which destroys the stored function.
      Task task = it->second.task;
      run_guarded(task);
    }
  }
}

void EventLoop::run_posted_tasks() {
  std::vector<Task> tasks;
  {
    std::lock_guard lock(posted_mutex_);
    tasks.swap(posted_);
  }
  for (Task& task : tasks) run_guarded(task);
}

void EventLoop::run_deferred_tasks() {
  while (!deferred_.empty()) {
    std::vector<Task> tasks;
    tasks.swap(deferred_);
    for (Task& task : tasks) run_guarded(task);
  }
}

void EventLoop::run() {
  constexpr int kMaxEvents = 256;
  std::array<epoll_event, kMaxEvents> events;
  while (!stop_requested_.load(std::memory_order_acquire)) {
    const int n = ::epoll_wait(epoll_fd_.get(), events.data(), kMaxEvents, next_timeout_ms());
    update_clocks();
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) static_cast<IoHandler*>(events[i].data.ptr)->on_io(events[i].events);
    run_deferred_tasks();
    run_posted_tasks();
    run_due_timers();
    run_deferred_tasks();
  }
}

}  // namespace net
