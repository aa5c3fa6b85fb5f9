// Clients that hold the server's resources by being slow: trickling request heads (slowloris) and never
// reading large responses. Neither may delay anyone else, and the server's timeouts must cut them off.
#include <poll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "integration/harness.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using harness::Client;
using harness::ServerProcess;

// The tests are built with the server's flags, so they know when it runs sanitized, several times slower:
// bounds on response times are scaled by this factor.
#if defined(__has_feature)
#define STORAGE_API_FAULT_HAS_FEATURE(name) __has_feature(name)
#else
#define STORAGE_API_FAULT_HAS_FEATURE(name) 0
#endif
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__) || \
    STORAGE_API_FAULT_HAS_FEATURE(thread_sanitizer) || STORAGE_API_FAULT_HAS_FEATURE(address_sanitizer)
constexpr int kSlowdown = 5;
#else
constexpr int kSlowdown = 1;
#endif

std::optional<double> scrape(std::uint16_t port, std::string_view series) {
  const auto metrics = Client(port).request("GET", "/metrics");
  if (!metrics || metrics->status != 200) return std::nullopt;
  return harness::metric_value(metrics->body, series);
}

double milliseconds(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// One slowloris connection: sends its head a byte at a time and records how the server ends it.
struct Trickler {
  Client client;
  std::size_t sent = 0;
  Clock::time_point first_byte{};
  std::optional<Clock::time_point> cut_off;
  std::string received;
};

// Reads what the server sent without blocking; true once the server has closed (or reset) the connection.
bool drain_until_closed(Trickler& slow) {
  char chunk[4096];
  for (;;) {
    const ssize_t n = ::recv(slow.client.fd(), chunk, sizeof chunk, MSG_DONTWAIT);
    if (n > 0) {
      slow.received.append(chunk, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
  }
}

// A sanitized server reports on its stderr, and ThreadSanitizer then carries on: a report must fail the test
// that provoked it even when the server keeps answering.
void expect_no_sanitizer_report(ServerProcess& server) {
  for (const std::string& line : server.log_lines()) {
    EXPECT_EQ(line.find("Sanitizer"), std::string::npos) << line;
    EXPECT_EQ(line.find("runtime error:"), std::string::npos) << line;
  }
}

TEST(SlowClientTest, SlowlorisClientsAreCutOffWhileANormalClientIsAnsweredPromptly) {
  constexpr int kSlowClients = 200;
  constexpr auto kHeaderTimeout = 1000ms;
  constexpr auto kPace = 20ms;         // one byte per slow client per round
  constexpr auto kPromptly = 1000ms * kSlowdown;  // bound on every answer to the normal client
  constexpr auto kCutOffSlack = 2000ms;  // sweep granularity plus a slow (sanitized) build
  // All of them come from 127.0.0.1: the per-client cap is lifted so the timeouts are what cuts them off.
  ServerProcess server({"--header-timeout", std::to_string(kHeaderTimeout.count()), "--threads", "2",
                        "--max-connections-per-client", "0"});
  ASSERT_NE(server.port(), 0);
  Client normal(server.port(), 5000ms);
  ASSERT_EQ(normal.request("GET", "/healthz")->status, 200);
  const auto baseline = scrape(server.port(), "http_connections_open");
  ASSERT_TRUE(baseline);

  // Long enough that no slow client could finish its head before the deadline at this pace.
  std::string head = "GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Pad: ";
  head.append(8000, 'p');
  std::vector<Trickler> slow;
  slow.reserve(kSlowClients);
  for (int i = 0; i < kSlowClients; ++i) {
    slow.push_back(Trickler{Client(server.port()), 0, {}, std::nullopt, {}});
    ASSERT_TRUE(slow.back().client.connected());
  }

  int normal_requests = 0;
  Clock::duration slowest_answer{};
  const auto give_up = Clock::now() + kHeaderTimeout + kCutOffSlack + 5s;
  std::vector<pollfd> fds;
  std::vector<Trickler*> waiting;
  for (;;) {
    waiting.clear();
    fds.clear();
    for (Trickler& s : slow) {
      if (s.cut_off) continue;
      if (s.sent < head.size()) {
        const ssize_t n = ::send(s.client.fd(), head.data() + s.sent, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n == 1 && s.sent++ == 0) s.first_byte = Clock::now();
      }
      waiting.push_back(&s);
      fds.push_back(pollfd{s.client.fd(), POLLIN, 0});
    }
    if (waiting.empty() || Clock::now() > give_up) break;

    // The normal client, alternating a kept-alive connection and a fresh one, in the middle of it all.
    const auto started = Clock::now();
    std::string id = "/api/buckets/normal-";
    id.append(std::to_string(normal_requests % 10));
    const auto put = normal.request("PUT", id, "payload");
    ASSERT_TRUE(put) << "normal client got no answer";
    EXPECT_EQ(put->status, 200);
    const auto get = Client(server.port(), 5000ms).request("GET", id);
    ASSERT_TRUE(get) << "new connection got no answer";
    EXPECT_EQ(get->status, 200);
    EXPECT_EQ(get->body, "payload");
    slowest_answer = std::max(slowest_answer, Clock::now() - started);
    EXPECT_LT(Clock::now() - started, kPromptly);
    ++normal_requests;

    // Paces the trickle, and notices each cut-off as it happens.
    ::poll(fds.data(), fds.size(), static_cast<int>(kPace.count()));
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents != 0 && drain_until_closed(*waiting[i])) waiting[i]->cut_off = Clock::now();
    }
  }

  EXPECT_GE(normal_requests, 20 / kSlowdown);  // a sanitized server answers fewer before the slow ones are cut off
  RecordProperty("slowest_normal_answer_ms", static_cast<int>(milliseconds(slowest_answer)));
  int answered_408 = 0;
  for (const Trickler& s : slow) {
    ASSERT_TRUE(s.cut_off) << "a slow client was still connected after " << s.sent << " bytes";
    EXPECT_LT(s.sent, head.size());
    const auto lasted = *s.cut_off - s.first_byte;
    // The server starts the clock when it reads the first byte, a moment before this side notes the send.
    EXPECT_GE(lasted, kHeaderTimeout - 50ms) << "cut off before its header timeout";
    EXPECT_LT(lasted, kHeaderTimeout + kCutOffSlack);
    // A 408 or a plain close; nothing else.
    if (!s.received.empty()) {
      EXPECT_EQ(s.received.rfind("HTTP/1.1 408 ", 0), 0u) << s.received.substr(0, 80);
      ++answered_408;
    }
  }
  RecordProperty("slow_clients_answered_408", answered_408);
  EXPECT_TRUE(harness::eventually([&] { return scrape(server.port(), "http_connections_open") == *baseline; },
                                  5000ms));
  expect_no_sanitizer_report(server);
}

TEST(SlowClientTest, ManyClientsThatNeverReadDoNotStallOthers) {
  constexpr int kStuckClients = 16;
  constexpr int kPipelinedGets = 8;
  constexpr auto kWriteTimeout = 1000ms;
  constexpr std::size_t kLargeBytes = 4u << 20;
  // One event loop: anything that blocks it on a stuck reader would stall every other client.
  ServerProcess server({"--threads", "1", "--write-timeout", std::to_string(kWriteTimeout.count())});
  ASSERT_NE(server.port(), 0);
  const std::string large(kLargeBytes, 'L');
  ASSERT_EQ(Client(server.port()).request("PUT", "/api/buckets/large", large)->status, 200);

  std::string pipelined;
  for (int i = 0; i < kPipelinedGets; ++i) pipelined += harness::build_request("GET", "/api/buckets/large");
  std::vector<Client> stuck;
  for (int i = 0; i < kStuckClients; ++i) {
    stuck.emplace_back(server.port());
    ASSERT_TRUE(stuck.back().connected());
    const int small = 4096;  // fills its receive window sooner
    ::setsockopt(stuck.back().fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    ASSERT_TRUE(stuck.back().send(pipelined));  // and never read
  }
  const auto stuck_since = Clock::now();

  // Others are served while the stuck readers hold their responses, including readers of the same object.
  {
    Client keep_alive(server.port());
    for (int i = 0; i < 30; ++i) {
      const auto started = Clock::now();
      const auto health = Client(server.port()).request("GET", "/healthz");
      ASSERT_TRUE(health);
      EXPECT_EQ(health->status, 200);
      const auto put = keep_alive.request("PUT", "/api/buckets/small", std::to_string(i));
      ASSERT_TRUE(put);
      EXPECT_EQ(put->status, 200);
      EXPECT_LT(Clock::now() - started, 1s * kSlowdown);
      if (i % 10 == 0) {
        const auto read_started = Clock::now();
        const auto whole = Client(server.port()).request("GET", "/api/buckets/large");
        ASSERT_TRUE(whole);
        EXPECT_EQ(whole->status, 200);
        EXPECT_TRUE(whole->body == large);
        EXPECT_LT(Clock::now() - read_started, 3s * kSlowdown);
      }
    }
  }

  // The write timeout cuts every stuck reader off: the server lets go of the connection...
  EXPECT_TRUE(harness::eventually([&] { return scrape(server.port(), "http_connections_open") == 1; },
                                  kWriteTimeout + 10s))
      << "open connections: " << scrape(server.port(), "http_connections_open").value_or(-1);
  RecordProperty("stuck_readers_released_after_ms", static_cast<int>(milliseconds(Clock::now() - stuck_since)));
  // ...and the reader sees it reset, without having to read anything. A plain close would leave the unsent
  // megabytes in the kernel: an orphaned socket in FIN-WAIT-1, probing the zero window for minutes, and a
  // peer that still looks connected.
  const auto all_cut_off = [&] {
    for (Client& c : stuck) {
      pollfd p{c.fd(), POLLRDHUP, 0};
      if (::poll(&p, 1, 0) != 1 || (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) == 0) return false;
    }
    return true;
  };
  EXPECT_TRUE(harness::eventually(all_cut_off, 5000ms)) << "a stuck reader's connection was not reset";
  expect_no_sanitizer_report(server);
}

}  // namespace
