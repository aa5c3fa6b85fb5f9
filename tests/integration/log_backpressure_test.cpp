// A log collector that stops reading the server's stderr must not stall the server: requests keep being
// answered, the lines that do not fit are dropped and counted, and shutdown is held up only briefly.
#include <gtest/gtest.h>
#include <signal.h>

#include <string>
#include <vector>

#include "harness.h"

namespace {

using namespace std::chrono_literals;
using harness::Client;
using harness::metric_value;
using harness::scrape;
using harness::ServerProcess;

constexpr std::string_view kDropped = "storage_api_log_lines_dropped_total";

// An id near the logged target's length limit, so each access-log line is about 400 bytes.
std::string long_target() { return "/api/buckets/" + std::string(240, 'k'); }

// Sends requests until /metrics reports dropped log lines: stderr's pipe and the log queue are then full.
// The dropped count, or 0 when it never happened.
double fill_stderr(const ServerProcess& server, Client& client) {
  const std::string target = long_target();
  for (int batch = 0; batch < 100; ++batch) {
    for (int i = 0; i < 200; ++i) {
      if (client.request("GET", target)->status != 404) return 0;
    }
    const double dropped = metric_value(scrape(server.port()), kDropped).value_or(0);
    if (dropped > 0) return dropped;
  }
  return 0;
}

TEST(LogBackpressureTest, AServerWhoseStderrIsFullKeepsAnswering) {
  ServerProcess server({"--threads", "1"}, {{"ACCESS_LOG", "true"}});
  ASSERT_NE(server.port(), 0);  // read from the "listening" line, before stderr stops being read
  EXPECT_EQ(metric_value(scrape(server.port()), kDropped), 0);
  server.pause_stderr(true);
  Client client(server.port());
  ASSERT_TRUE(client.connected());
  const double dropped_before = fill_stderr(server, client);
  ASSERT_GT(dropped_before, 0);

  // Nothing can leave the queue now, so every one of these requests' lines is dropped; each request is
  // still answered within the client's timeout.
  const std::string target = long_target();
  constexpr int kRequests = 2000;
  for (int i = 0; i < kRequests; ++i) {
    ASSERT_EQ(client.request("GET", target)->status, 404) << "request " << i;
  }
  const double dropped_after = metric_value(scrape(server.port()), kDropped).value_or(0);
  EXPECT_GE(dropped_after - dropped_before, kRequests);

  // Once stderr is read again the queue drains and new lines get through (until then they are dropped,
  // so each attempt logs a fresh one), whole, up to the last one at exit.
  server.pause_stderr(false);
  EXPECT_TRUE(harness::eventually([&] {
    return client.request("GET", "/api/buckets/resumed")->status == 404 &&
           server.wait_for_log("\"target\":\"/api/buckets/resumed\"", 10ms).has_value();
  }, 10000ms));
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(10000ms), 0);
  EXPECT_TRUE(server.wait_for_log("\"event\":\"shutdown_complete\""));
  const std::vector<std::string> lines = server.log_lines();
  ASSERT_FALSE(lines.empty());
  for (const std::string& line : lines) {
    ASSERT_EQ(line.rfind("{\"ts\":\"", 0), 0u) << line.substr(0, 200);
    ASSERT_EQ(line.back(), '}') << line.substr(0, 200);
  }
  EXPECT_NE(lines.back().find("\"event\":\"shutdown_complete\""), std::string::npos) << lines.back();
}

TEST(LogBackpressureTest, ShutdownIsNotHeldUpByAStderrThatStaysFull) {
  ServerProcess server({"--threads", "1"}, {{"ACCESS_LOG", "true"}});
  ASSERT_NE(server.port(), 0);
  server.pause_stderr(true);
  Client client(server.port());
  ASSERT_GT(fill_stderr(server, client), 0);
  server.signal(SIGTERM);
  // The logger gives up on what it still holds after its drain bound (2 s) and the process exits.
  EXPECT_EQ(server.wait_exit(10000ms), 0);
}

}  // namespace
