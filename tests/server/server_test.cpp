// The server module in-process over real loopback sockets, with test handlers: deferred answers from a
// timer, the failure policy at the loop boundary, and the accept-time limits.
#include "server/server.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "integration/harness.h"

namespace {

using namespace std::chrono_literals;
using harness::Client;

// Answers every request with its path; /later is answered 20 ms later from a loop timer; /oom throws
// std::bad_alloc; /explode throws something else.
class TestHandler final : public http::Handler {
 public:
  explicit TestHandler(net::EventLoop& loop) : loop_(loop) {}

  std::uint32_t on_request_begin(const http::RequestHead&) override { return 0; }
  bool admit_body(const http::RequestHead&, std::uint64_t, http::Response&) override { return true; }
  void handle(const http::RequestHead& head, base::ByteBuilder&, http::Response& response,
              http::Deferrer& deferrer) override {
    if (head.path == "/later") {
      auto pending = std::make_shared<http::PendingResponse>(deferrer.defer());
      loop_.run_after(20ms, [pending] {
        http::Response answer;
        answer.body = "answered later";
        pending->complete(answer);
      });
      return;
    }
    if (head.path == "/oom") throw std::bad_alloc();
    if (head.path == "/explode") throw std::runtime_error("bug");
    if (head.path == "/throwing-timer") {
      loop_.run_after(1ms, [] { throw std::runtime_error("timer bug"); });
    }
    path_ = std::string(head.path);
    response.body = path_;
  }
  void on_request_end() override {}
  void on_response(const http::ResponseRecord&) override {}

 private:
  net::EventLoop& loop_;
  std::string path_;
};

class InProcessServer {
 public:
  explicit InProcessServer(server::ServerOptions options = {}) {
    options.address = *net::parse_address("127.0.0.1", 0);
    options.threads = 1;
    server_ = std::make_unique<server::Server>(
        std::move(options),
        [](unsigned, server::ListenerKind, net::EventLoop& loop) { return std::make_unique<TestHandler>(loop); },
        [this](std::string_view event, int) { events_.fetch_add(event == "loop_task_failed" ? 1 : 0); });
    const base::Status started = server_->start();
    EXPECT_TRUE(started) << started.message();
    thread_ = std::thread([this] { server_->run(); });
  }
  ~InProcessServer() {
    server_->drain(0ms);
    thread_.join();
  }
  std::uint16_t port() const { return server_->port(); }
  server::Server& server() { return *server_; }
  int task_failures() const { return events_.load(); }

 private:
  std::unique_ptr<server::Server> server_;
  std::thread thread_;
  std::atomic<int> events_{0};
};

TEST(ServerTest, AHandlerCanAnswerFromATimerAndPipelinedOrderIsKept) {
  InProcessServer s;
  Client c(s.port());
  ASSERT_TRUE(c.send(harness::build_request("GET", "/later") + harness::build_request("GET", "/now")));
  const auto first = c.read_response();
  const auto second = c.read_response();
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  EXPECT_EQ(first->body, "answered later");
  EXPECT_EQ(second->body, "/now");
}

TEST(ServerTest, AnAllocationFailureAnswers503AndTheLoopServesOthers) {
  InProcessServer s;
  Client c(s.port());
  const auto refused = c.request("GET", "/oom");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->header("retry-after"), "1");
  EXPECT_TRUE(c.wait_closed());
  const auto other = Client(s.port()).request("GET", "/fine");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->body, "/fine");
}

TEST(ServerTest, AHandlerBugAnswers500AndAThrowingTimerDoesNotStopTheLoop) {
  InProcessServer s;
  EXPECT_EQ(Client(s.port()).request("GET", "/explode")->status, 500);
  EXPECT_EQ(Client(s.port()).request("GET", "/throwing-timer")->status, 200);
  ASSERT_TRUE(harness::eventually([&] { return s.task_failures() == 1; }));
  EXPECT_EQ(Client(s.port()).request("GET", "/still-here")->body, "/still-here");
}

TEST(ServerTest, ConnectionsPerClientAddressAreCapped) {
  server::ServerOptions options;
  options.max_connections_per_client = 2;
  InProcessServer s(options);
  Client a(s.port());
  Client b(s.port());
  ASSERT_EQ(a.request("GET", "/a")->status, 200);
  ASSERT_EQ(b.request("GET", "/b")->status, 200);
  Client c(s.port());
  EXPECT_TRUE(c.wait_closed()) << "a third connection from 127.0.0.1 is closed at accept";
  EXPECT_EQ(s.server().rejected(server::Rejection::kClientLimit), 1u);
  { Client gone = std::move(a); }
  ASSERT_TRUE(harness::eventually([&] {
    auto r = Client(s.port()).request("GET", "/again");
    return r && r->status == 200;
  }));
}

TEST(ServerTest, EachConnectionIsChargedToTheConnectionBudgetAndRefusedWhenItIsSpent) {
  // Three connections' fixed charge, plus room for the buffers each uses to answer a request.
  base::MemoryAccount connections(3 * (10000 + 8192));
  server::ServerOptions options;
  options.connection_memory = &connections;
  options.connection_cost_bytes = 10000;
  InProcessServer s(options);
  std::vector<Client> held;
  for (int i = 0; i < 3; ++i) {
    held.emplace_back(s.port());
    ASSERT_EQ(held.back().request("GET", "/x")->status, 200);
  }
  EXPECT_GE(connections.used(), 30000u);
  base::MemoryReservation squeeze(connections);
  ASSERT_TRUE(squeeze.resize(connections.available()));  // whatever is left is taken
  Client over(s.port());
  EXPECT_TRUE(over.wait_closed());
  EXPECT_EQ(s.server().rejected(server::Rejection::kConnectionMemory), 1u);
  held.clear();
  squeeze.release();
  ASSERT_TRUE(harness::eventually([&] { return connections.used() == 0; })) << "closing releases every byte";
}

TEST(ServerTest, TheAdminListenerHasItsOwnAllowance) {
  server::ServerOptions options;
  options.admin_address = *net::parse_address("127.0.0.1", 0);
  options.max_connections = 1;
  options.admin_max_connections = 1;
  InProcessServer s(options);
  ASSERT_NE(s.server().admin_port(), 0);
  Client data(s.port());
  ASSERT_EQ(data.request("GET", "/x")->status, 200);
  Client refused(s.port());
  EXPECT_TRUE(refused.wait_closed()) << "the data port is full";
  Client admin(s.server().admin_port());
  const auto r = admin.request("GET", "/healthz");
  ASSERT_TRUE(r) << "the admin port still answers";
  EXPECT_EQ(r->body, "/healthz");
  Client second_admin(s.server().admin_port());
  EXPECT_TRUE(second_admin.wait_closed());
  EXPECT_EQ(s.server().rejected(server::Rejection::kAdminLimit), 1u);
}

// Signals for one test: blocked in this thread (so in the server's threads, started after it) and
// restored afterwards. Sent to the whole process, they wait pending for the server's signalfd.
class BlockedSignals {
 public:
  explicit BlockedSignals(std::initializer_list<int> signals) {
    sigemptyset(&set_);
    for (const int signal_number : signals) sigaddset(&set_, signal_number);
    pthread_sigmask(SIG_BLOCK, &set_, &previous_);
  }
  ~BlockedSignals() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  static sigset_t only(int signal_number) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signal_number);
    return set;
  }

 private:
  sigset_t set_{};
  sigset_t previous_{};
};

TEST(ServerTest, AReloadSignalCallsOnReloadEachTimeAndServingGoesOn) {
  const BlockedSignals blocked{SIGHUP};
  std::atomic<int> reloads{0};
  server::ServerOptions options;
  options.signal_reload = server::SignalReload{BlockedSignals::only(SIGHUP), [&reloads] { reloads.fetch_add(1); }};
  InProcessServer s(options);
  for (int expected = 1; expected <= 3; ++expected) {
    ::kill(::getpid(), SIGHUP);  // one at a time: pending signals of one number merge
    ASSERT_TRUE(harness::eventually([&] { return reloads.load() == expected; })) << reloads.load();
  }
  Client client(s.port());
  const auto r = client.request("GET", "/after-reloads");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "/after-reloads");
}

TEST(ServerTest, ReloadAndShutdownSignalsEachDoTheirOwn) {
  const BlockedSignals blocked{SIGHUP, SIGUSR2};
  std::atomic<int> reloads{0};
  std::atomic<int> shutdowns{0};
  server::ServerOptions options;
  options.signal_reload = server::SignalReload{BlockedSignals::only(SIGHUP), [&reloads] {
                                                 reloads.fetch_add(1);
                                                 throw std::runtime_error("a failing reload");
                                               }};
  options.signal_shutdown =
      server::SignalShutdown{BlockedSignals::only(SIGUSR2), 0ms, 1000ms, [&shutdowns](int) { shutdowns.fetch_add(1); }};
  options.address = *net::parse_address("127.0.0.1", 0);
  options.threads = 1;
  server::Server server(
      std::move(options),
      [](unsigned, server::ListenerKind, net::EventLoop& loop) { return std::make_unique<TestHandler>(loop); },
      [](std::string_view, int) {});
  ASSERT_TRUE(server.start());
  std::thread loop([&server] { server.run(); });
  ::kill(::getpid(), SIGHUP);
  ASSERT_TRUE(harness::eventually([&] { return reloads.load() == 1; }));
  {
    Client client(server.port());
    EXPECT_EQ(client.request("GET", "/still-serving")->status, 200) << "a throwing reload does not stop the server";
  }
  EXPECT_EQ(shutdowns.load(), 0);
  ::kill(::getpid(), SIGUSR2);
  loop.join();  // run() returns once the shutdown signal has drained the server
  EXPECT_EQ(shutdowns.load(), 1);
  EXPECT_EQ(reloads.load(), 1);
}

}  // namespace
