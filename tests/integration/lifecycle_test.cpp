// Process lifecycle of the real binary: command line, health check probe, graceful shutdown, timeouts and
// limits that protect the server from slow or greedy clients.
#include <gtest/gtest.h>
#include <signal.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/unique_fd.h"
#include "harness.h"

namespace {

using namespace std::chrono_literals;
using harness::Client;
using harness::ServerProcess;

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

CommandResult run(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) return result;
  char chunk[4096];
  std::size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, pipe)) > 0) result.output.append(chunk, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

const std::string kBinary = STORAGE_API_BINARY;

TEST(CommandLineTest, HelpListsEverySettingAndExitsZero) {
  const CommandResult r = run(kBinary + " --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* name : {"PORT", "HOST", "THREADS", "MAX_BODY_BYTES", "MAX_STORAGE_BYTES", "HEADER_TIMEOUT_MS",
                           "IDLE_TIMEOUT_MS", "SHUTDOWN_GRACE_MS", "HISTOGRAM_BUCKETS", "LOG_LEVEL", "ACCESS_LOG"}) {
    EXPECT_NE(r.output.find(name), std::string::npos) << name;
  }
}

TEST(CommandLineTest, InvalidValueIsOneClearLineAndExitTwo) {
  const CommandResult r = run("PORT=70000 " + kBinary);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("PORT"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find('\n'), r.output.size() - 1) << "expected exactly one line: " << r.output;
  EXPECT_EQ(run(kBinary + " --no-such-flag").exit_code, 2);
}

TEST(CommandLineTest, StartUpLogLineHasTheEffectiveConfiguration) {
  ServerProcess server({"--max-body-bytes", "1Mi"});
  ASSERT_NE(server.port(), 0);
  const auto line = server.wait_for_log("\"event\":\"listening\"");
  ASSERT_TRUE(line);
  EXPECT_NE(line->find("\"max_body_bytes\":1048576"), std::string::npos) << *line;
  EXPECT_EQ(line->front(), '{');
  EXPECT_EQ(line->back(), '}');
}

TEST(CommandLineTest, HealthcheckProbesTheLocalServer) {
  ServerProcess server;
  ASSERT_NE(server.port(), 0);
  EXPECT_EQ(run(kBinary + " --healthcheck --port " + std::to_string(server.port())).exit_code, 0);
  server.signal(SIGTERM);
  ASSERT_EQ(server.wait_exit(), 0);
  EXPECT_EQ(run(kBinary + " --healthcheck --port " + std::to_string(server.port())).exit_code, 1);
}

// GET /healthz over IPv6 loopback with a plain socket (the harness client speaks IPv4 only).
int healthz_status_over_ipv6(std::uint16_t port) {
  const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_port = htons(port);
  address.sin6_addr = in6addr_loopback;
  int status = -1;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    const std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char reply[64] = {};
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size()) &&
        ::recv(fd, reply, sizeof reply - 1, MSG_WAITALL) > 12) {
      status = std::atoi(reply + 9);
    }
  }
  ::close(fd);
  return status;
}

// Where IPv6 is off (Docker disables it in containers unless the daemon enables it) an IPv6 loopback
// address cannot be bound, and the IPv6 tests have nothing to test: they skip, saying why.
bool ipv6_loopback_available() {
  const base::UniqueFd fd(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  return ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
}

constexpr const char* kNoIpv6 = "IPv6 is not available on this machine: cannot bind [::1]:0";

TEST(AddressTest, DualStackWildcardServesIpv4AndIpv6) {
  if (!ipv6_loopback_available()) GTEST_SKIP() << kNoIpv6;
  ServerProcess server({"--host", "::"});
  ASSERT_NE(server.port(), 0);
  EXPECT_EQ(Client(server.port()).request("GET", "/healthz")->status, 200);
  EXPECT_EQ(healthz_status_over_ipv6(server.port()), 200);
  EXPECT_EQ(run(kBinary + " --healthcheck --host :: --port " + std::to_string(server.port())).exit_code, 0);
}

TEST(AddressTest, Ipv6LoopbackOnly) {
  if (!ipv6_loopback_available()) GTEST_SKIP() << kNoIpv6;
  ServerProcess server({"--host", "::1"});
  ASSERT_NE(server.port(), 0);
  EXPECT_EQ(healthz_status_over_ipv6(server.port()), 200);
  EXPECT_FALSE(Client(server.port()).connected()) << "an IPv6-only listener must not accept IPv4";
}

TEST(ShutdownTest, SigtermFinishesTheRequestInFlightAndExitsZero) {
  // One loop: once the idle connection is closed, the drain has reached the busy connection's loop too.
  ServerProcess server({"--shutdown-grace", "5000", "--threads", "1"});
  ASSERT_NE(server.port(), 0);
  Client idle(server.port());
  ASSERT_EQ(idle.request("GET", "/healthz")->status, 200);

  Client busy(server.port());
  ASSERT_TRUE(busy.send("PUT /api/buckets/late HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhalf-"));
  // The server has the head once the request shows as in flight.
  ASSERT_TRUE(harness::await_metric(server.port(), "http_requests_in_flight", 2));
  server.signal(SIGTERM);
  ASSERT_TRUE(server.wait_for_log("\"event\":\"shutdown_started\""));
  EXPECT_TRUE(idle.wait_closed()) << "an idle keep-alive connection must be closed on drain";

  ASSERT_TRUE(busy.send("done!"));
  auto r = busy.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(busy.wait_closed());
  EXPECT_EQ(server.wait_exit(), 0);
  EXPECT_TRUE(server.wait_for_log("\"event\":\"shutdown_complete\""));
}

TEST(ShutdownTest, ReadinessFailsDuringTheShutdownDelayWhileServingContinues) {
  ServerProcess server({"--shutdown-delay", "10000"});
  ASSERT_NE(server.port(), 0);
  Client c(server.port());
  ASSERT_EQ(c.request("GET", "/readyz")->status, 200);
  server.signal(SIGTERM);
  ASSERT_TRUE(harness::eventually([&] { return c.request("GET", "/readyz")->status == 503; }));
  EXPECT_EQ(c.request("PUT", "/api/buckets/still", "serving")->status, 200);
  EXPECT_EQ(Client(server.port()).request("GET", "/api/buckets/still")->body, "serving");
  // A second signal skips the rest of the delay.
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(5000ms), 0);
}

TEST(ShutdownTest, SigintDrainsAndExitsZeroLikeSigterm) {
  ServerProcess server;
  ASSERT_NE(server.port(), 0);
  Client idle(server.port());
  ASSERT_EQ(idle.request("GET", "/healthz")->status, 200);
  server.signal(SIGINT);
  EXPECT_TRUE(idle.wait_closed());
  EXPECT_EQ(server.wait_exit(5000ms), 0);
  EXPECT_TRUE(server.wait_for_log("\"signal\":" + std::to_string(SIGINT)));
}

// Loop 0 runs on the main thread, so the process has exactly one thread per event loop, plus the log
// writer (started by the "listening" line).
TEST(ThreadsTest, OneThreadPerEventLoopPlusTheLogWriterAndNoOther) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "ThreadSanitizer's runtime adds a thread of its own; the other builds run this test";
#endif
  for (const char* threads : {"1", "3"}) {
    SCOPED_TRACE(threads);
    ServerProcess server({"--threads", threads});
    ASSERT_NE(server.port(), 0);
    EXPECT_EQ(Client(server.port()).request("GET", "/healthz")->status, 200);
    std::size_t tasks = 0;
    std::size_t log_writers = 0;
    for (const auto& entry :
         std::filesystem::directory_iterator("/proc/" + std::to_string(server.pid()) + "/task")) {
      if (!entry.is_directory()) continue;
      ++tasks;
      std::ifstream comm(entry.path() / "comm");
      std::string name;
      if (std::getline(comm, name) && name == "log_writer") ++log_writers;
    }
    EXPECT_EQ(log_writers, 1u);
    EXPECT_EQ(tasks, static_cast<std::size_t>(std::stoi(threads)) + 1);
  }
}

TEST(ShutdownTest, GracePeriodBoundsAStalledRequest) {
  ServerProcess server({"--shutdown-grace", "300"});
  ASSERT_NE(server.port(), 0);
  Client stalled(server.port());
  ASSERT_TRUE(stalled.send("PUT /api/buckets/never HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc"));
  ASSERT_TRUE(harness::await_metric(server.port(), "http_requests_in_flight", 2));
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(5000ms), 0);
  EXPECT_TRUE(stalled.wait_closed());
}

TEST(TimeoutTest, SlowRequestHeadGets408AndIsClosed) {
  ServerProcess server({"--header-timeout", "200"});
  ASSERT_NE(server.port(), 0);
  Client slow(server.port());
  ASSERT_TRUE(slow.send("GET /healthz HTTP/1.1\r\nHost: a\r\n"));
  auto r = slow.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
  EXPECT_TRUE(slow.wait_closed());
}

TEST(TimeoutTest, TricklingHeadBytesDoesNotExtendTheDeadline) {
  ServerProcess server({"--header-timeout", "300"});
  ASSERT_NE(server.port(), 0);
  Client slow(server.port(), 5000ms);
  const std::string head = "GET /healthz HTTP/1.1\r\nHost: a\r\nX-Pad: " + std::string(200, 'p');
  std::string received;
  // One byte every 10 ms would take 2.3 s; the server must cut it off at its 300 ms head deadline.
  bool refused = false;
  for (char byte : head) {
    if (!slow.send(std::string_view(&byte, 1))) break;
    pollfd p{slow.fd(), POLLIN, 0};
    if (::poll(&p, 1, 10) > 0) {
      refused = true;
      break;
    }
  }
  ASSERT_TRUE(refused) << "the server waited for the whole trickled head";
  auto r = slow.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
}

TEST(TimeoutTest, IdleKeepAliveConnectionIsClosed) {
  ServerProcess server({"--idle-timeout", "200"});
  ASSERT_NE(server.port(), 0);
  Client c(server.port());
  ASSERT_EQ(c.request("GET", "/healthz")->status, 200);
  EXPECT_TRUE(c.wait_closed());
}

TEST(TimeoutTest, ConnectionThatSendsNothingIsClosedAfterTheHeadTimeout) {
  ServerProcess server({"--header-timeout", "200", "--idle-timeout", "60000"});
  ASSERT_NE(server.port(), 0);
  Client silent(server.port());
  EXPECT_TRUE(silent.wait_closed());
}

TEST(TimeoutTest, StalledBodyGets408) {
  ServerProcess server({"--body-timeout", "200"});
  ASSERT_NE(server.port(), 0);
  Client c(server.port());
  ASSERT_TRUE(c.send("PUT /api/buckets/stall HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
  EXPECT_TRUE(c.wait_closed());
  EXPECT_EQ(Client(server.port()).request("GET", "/api/buckets/stall")->status, 404);
}

TEST(LimitTest, ConnectionsBeyondTheLimitAreClosedAtOnce) {
  ServerProcess server({"--max-connections", "2", "--threads", "1"});
  ASSERT_NE(server.port(), 0);
  Client a(server.port());
  Client b(server.port());
  ASSERT_EQ(a.request("GET", "/healthz")->status, 200);
  ASSERT_EQ(b.request("GET", "/healthz")->status, 200);
  Client c(server.port());
  EXPECT_TRUE(c.wait_closed());
  // Capacity returns when a connection goes away.
  { Client gone = std::move(a); }
  ASSERT_TRUE(harness::eventually([&] {
    Client again(server.port());
    auto r = again.request("GET", "/healthz");
    return r && r->status == 200;
  }));
  auto m = b.request("GET", "/metrics");
  ASSERT_TRUE(m);
  EXPECT_GE(harness::metric_value(m->body, "http_connections_rejected_total").value_or(0), 1);
}

TEST(LimitTest, StorageCapAnswers507AndKeepsTheStoreIntact) {
  ServerProcess server({"--max-storage-bytes", "1000"});
  ASSERT_NE(server.port(), 0);
  Client c(server.port());
  // Each bucket also costs its entry's header and id and its page's, so two of 500 do not fit.
  ASSERT_EQ(c.request("PUT", "/api/buckets/a", std::string(500, 'a'))->status, 200);
  auto refused = c.request("PUT", "/api/buckets/b", std::string(500, 'b'));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 507);
  EXPECT_EQ(refused->body, R"({"error": "insufficient storage"})");
  // Replacing a bucket only needs room for the difference.
  auto c2 = Client(server.port());
  EXPECT_EQ(c2.request("PUT", "/api/buckets/a", std::string(800, 'A'))->status, 200);
  EXPECT_EQ(c2.request("GET", "/api/buckets/a")->body, std::string(800, 'A'));
  EXPECT_EQ(c2.request("GET", "/api/buckets/b")->status, 404);
}

TEST(LimitTest, AReaderThatNeverReadsDoesNotStallOthers) {
  ServerProcess server({"--threads", "1", "--write-timeout", "500"});
  ASSERT_NE(server.port(), 0);
  ASSERT_EQ(Client(server.port()).request("PUT", "/api/buckets/large", std::string(4 << 20, 'L'))->status, 200);
  Client stuck(server.port());
  std::string many;
  for (int i = 0; i < 8; ++i) many += harness::build_request("GET", "/api/buckets/large");
  ASSERT_TRUE(stuck.send(many));  // and never read
  for (int i = 0; i < 20; ++i) {
    auto r = Client(server.port()).request("GET", "/healthz");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  // The write timeout cuts the stuck reader off: only the scraping connection stays open.
  EXPECT_TRUE(harness::await_metric(server.port(), "http_connections_open", 1));
}

TEST(LimitTest, HalfClosedClientThatDoesNotReadCostsNoCpu) {
  ServerProcess server({"--threads", "1"});
  ASSERT_NE(server.port(), 0);
  ASSERT_EQ(Client(server.port()).request("PUT", "/api/buckets/large", std::string(4 << 20, 'L'))->status, 200);
  Client quiet(server.port());
  std::string many;
  for (int i = 0; i < 4; ++i) many += harness::build_request("GET", "/api/buckets/large");
  ASSERT_TRUE(quiet.send(many));
  quiet.shutdown_write();  // and never reads: the server is blocked writing to a half-closed peer
  ASSERT_TRUE(harness::eventually([&] { return Client(server.port()).request("GET", "/healthz")->status == 200; }));
  const long before = harness::cpu_ticks(server.pid());
  // Measuring CPU use needs an interval of wall time; nothing is awaited here.
  std::this_thread::sleep_for(1s);
  const long used = harness::cpu_ticks(server.pid()) - before;
  EXPECT_LT(used, ::sysconf(_SC_CLK_TCK) / 5) << "the server spun while blocked on a half-closed peer";
  EXPECT_EQ(Client(server.port()).request("GET", "/healthz")->status, 200);
}

}  // namespace
