#include "net/event_loop.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>
#include <thread>
#include <vector>

namespace {

using namespace std::chrono_literals;

std::unique_ptr<net::EventLoop> make_loop() {
  auto loop = net::EventLoop::create();
  EXPECT_TRUE(loop) << loop.status().message();
  return loop ? std::move(*loop) : nullptr;
}

TEST(EventLoopTest, TimersRunInDeadlineOrder) {
  auto loop = make_loop();
  std::vector<int> order;
  loop->run_after(30ms, [&] {
    order.push_back(3);
    loop->stop();
  });
  loop->run_after(10ms, [&] { order.push_back(1); });
  loop->run_after(20ms, [&] { order.push_back(2); });
  loop->run();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(EventLoopTest, TimersNeverFireEarly) {
  auto loop = make_loop();
  const auto start = net::EventLoop::Clock::now();
  net::EventLoop::Clock::time_point fired;
  loop->run_after(25ms, [&] {
    fired = net::EventLoop::Clock::now();
    loop->stop();
  });
  loop->run();
  EXPECT_GE(fired - start, 25ms);
}

TEST(EventLoopTest, RepeatingTimerRunsUntilCancelled) {
  auto loop = make_loop();
  int runs = 0;
  net::EventLoop::TimerId id = 0;
  id = loop->run_every(1ms, [&] {
    if (++runs == 5) {
      loop->cancel(id);
      loop->run_after(5ms, [&] { loop->stop(); });
    }
  });
  loop->run();
  EXPECT_EQ(runs, 5);
}

TEST(EventLoopTest, CancelledTimerDoesNotRun) {
  auto loop = make_loop();
  bool ran = false;
  const auto id = loop->run_after(1ms, [&] { ran = true; });
  loop->cancel(id);
  loop->run_after(10ms, [&] { loop->stop(); });
  loop->run();
  EXPECT_FALSE(ran);
}

TEST(EventLoopTest, PostFromAnotherThreadWakesTheLoop) {
  auto loop = make_loop();
  std::thread::id ran_on;
  std::thread poster([&] {
    loop->post([&] {
      ran_on = std::this_thread::get_id();
      loop->stop();
    });
  });
  loop->run();
  poster.join();
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TEST(EventLoopTest, StopFromAnotherThreadEndsRun) {
  auto loop = make_loop();
  std::thread stopper([&] { loop->stop(); });
  loop->run();  // returns only because of stop(); a hang fails by the test timeout
  stopper.join();
  SUCCEED();
}

struct CountingHandler final : net::IoHandler {
  void on_io(std::uint32_t events) noexcept override {
    last_events = events;
    char buffer[64];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) received.append(buffer, static_cast<std::size_t>(n));
    if (received.size() >= 5) loop->stop();
  }
  int fd = -1;
  net::EventLoop* loop = nullptr;
  std::string received;
  std::uint32_t last_events = 0;
};

TEST(EventLoopTest, FileEventsDeliverReadableData) {
  auto loop = make_loop();
  int pair[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair), 0);
  CountingHandler handler;
  handler.fd = pair[0];
  handler.loop = loop.get();
  ASSERT_TRUE(loop->add(pair[0], EPOLLIN, &handler));
  ASSERT_EQ(::write(pair[1], "hello", 5), 5);
  loop->run();
  EXPECT_EQ(handler.received, "hello");
  EXPECT_TRUE(handler.last_events & EPOLLIN);
  loop->remove(pair[0]);
  ::close(pair[0]);
  ::close(pair[1]);
}

TEST(EventLoopTest, DeferredTasksRunAfterTheBatch) {
  auto loop = make_loop();
  std::vector<int> order;
  loop->post([&] {
    loop->defer([&] {
      order.push_back(2);
      loop->stop();
    });
    order.push_back(1);
  });
  loop->run();
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
}

}  // namespace
