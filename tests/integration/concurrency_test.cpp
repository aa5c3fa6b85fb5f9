// Many clients at once against the real binary, on several event loops: no lost or torn writes, and
// metric totals that account for every request.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace {

using harness::Client;
using harness::ServerProcess;

// A value that says who wrote it, in every byte range, so a torn write (bytes of two writers) is visible.
std::string value_of(int writer, int round) {
  const std::string stamp = "w" + std::to_string(writer) + "r" + std::to_string(round) + ";";
  std::string value;
  while (value.size() < 3000) value += stamp;
  return value;
}

bool is_whole_value(const std::string& value) {
  const std::size_t stamp_end = value.find(';');
  if (stamp_end == std::string::npos) return false;
  const std::string stamp = value.substr(0, stamp_end + 1);
  std::string expected;
  while (expected.size() < 3000) expected += stamp;
  return value == expected;
}

TEST(ConcurrencyTest, ParallelClientsLoseAndTearNothing) {
  ServerProcess server({"--threads", "2"});
  ASSERT_NE(server.port(), 0);
  constexpr int kClients = 8;
  constexpr int kRounds = 150;
  std::atomic<int> failures{0};
  std::atomic<int> torn{0};
  std::vector<std::thread> clients;
  for (int w = 0; w < kClients; ++w) {
    clients.emplace_back([&, w] {
      Client c(server.port());
      for (int round = 0; round < kRounds; ++round) {
        // Own ids must read back exactly; the shared id must always hold some writer's whole value.
        const std::string own = "/api/buckets/own-" + std::to_string(w) + "-" + std::to_string(round % 10);
        const std::string value = value_of(w, round);
        auto put = c.request("PUT", own, value);
        auto shared = c.request("PUT", "/api/buckets/shared", value);
        auto get = c.request("GET", own);
        auto get_shared = c.request("GET", "/api/buckets/shared");
        if (!put || !shared || !get || !get_shared || put->status != 200 || get->body != value) ++failures;
        if (get_shared && !is_whole_value(get_shared->body)) ++torn;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(torn.load(), 0);

  Client check(server.port());
  for (int w = 0; w < kClients; ++w) {
    for (int slot = 0; slot < 10; ++slot) {
      const int last_round = kRounds - 10 + slot;
      auto r = check.request("GET", "/api/buckets/own-" + std::to_string(w) + "-" + std::to_string(slot));
      ASSERT_TRUE(r);
      EXPECT_EQ(r->body, value_of(w, last_round));
    }
  }
  auto m = check.request("GET", "/metrics");
  ASSERT_TRUE(m);
  const double puts = harness::metric_value(
      m->body, R"(http_request_duration_seconds_count{method="PUT",path="/api/buckets/{id}",status="200"})").value_or(-1);
  const double gets = harness::metric_value(
      m->body, R"(http_request_duration_seconds_count{method="GET",path="/api/buckets/{id}",status="200"})").value_or(-1);
  EXPECT_EQ(puts, 2.0 * kClients * kRounds);
  EXPECT_EQ(gets, 2.0 * kClients * kRounds + kClients * 10);
  EXPECT_EQ(harness::metric_value(m->body, "storage_api_buckets"), kClients * 10 + 1);
}

}  // namespace
