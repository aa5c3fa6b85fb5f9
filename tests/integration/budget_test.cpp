// The memory budget and the slot limits, over real sockets: the plan at start-up, the in-flight body
// budget, the admin listener, and uploads too slow to keep their slot.
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "integration/harness.h"

namespace {

using namespace std::chrono_literals;
using harness::Client;
using harness::ServerProcess;

// Runs the binary with `args` to completion; its exit status and stderr.
std::pair<int, std::string> run_to_exit(const std::vector<std::string>& args) {
  int pipe_fds[2];
  EXPECT_EQ(::pipe(pipe_fds), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipe_fds[1], 2);
    ::close(pipe_fds[0]);
    std::vector<char*> argv;
    std::string binary = STORAGE_API_BINARY;
    argv.push_back(binary.data());
    std::vector<std::string> copies = args;
    for (auto& arg : copies) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  std::string err;
  char chunk[4096];
  ssize_t n;
  while ((n = ::read(pipe_fds[0], chunk, sizeof chunk)) > 0) err.append(chunk, static_cast<std::size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, err};
}

TEST(BudgetTest, AnExplicitSettingThatCannotFitTheLimitStopsTheStartWithOneLine) {
  const auto [status, err] =
      run_to_exit({"--port", "0", "--max-memory-bytes", "100MiB", "--max-storage-bytes", "90MiB"});
  EXPECT_EQ(status, 2);
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_NE(err.find("MAX_STORAGE_BYTES 90MiB"), std::string::npos) << err;
  EXPECT_NE(err.find("memory limit 100MiB (MAX_MEMORY_BYTES)"), std::string::npos) << err;
}

TEST(BudgetTest, TheStartUpLogShowsTheEffectiveBudget) {
  ServerProcess server({"--max-memory-bytes", "256MiB"});
  ASSERT_NE(server.port(), 0);
  const auto line = server.wait_for_log("\"event\":\"listening\"");
  ASSERT_TRUE(line);
  EXPECT_NE(line->find("\"memory_budget\":{\"limit\":268435456"), std::string::npos) << *line;
  const std::string metrics = harness::scrape(server.port());
  EXPECT_EQ(harness::metric_value(metrics, R"(storage_api_memory_budget_bytes{area="total"})"), 268435456.0);
  EXPECT_GT(harness::metric_value(metrics, R"(storage_api_memory_budget_bytes{area="inflight_bodies"})").value_or(0), 0);
}

TEST(BudgetTest, UploadsBeyondTheInFlightBudgetAre503WithRetryAfter) {
  ServerProcess server({"--max-inflight-body-bytes", "1MiB", "--max-body-bytes", "1048000"});
  ASSERT_NE(server.port(), 0);
  // One upload announces the whole budget and holds it.
  Client holder(server.port());
  ASSERT_TRUE(holder.send("PUT /api/buckets/held HTTP/1.1\r\nHost: a\r\nContent-Length: 1048000\r\n\r\nxyz"));
  ASSERT_TRUE(harness::await_metric(server.port(), "storage_api_inflight_body_bytes", 1048000 + 32))
      << "the announced length is reserved at once";
  Client refused(server.port());
  const auto r = refused.request("PUT", "/api/buckets/other", std::string(1000, 'o'));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(r->header("retry-after"), "1");
  EXPECT_EQ(r->body, R"({"error": "service unavailable"})");
  EXPECT_TRUE(harness::await_metric(server.port(), R"(storage_api_refusals_total{reason="inflight_body_budget"})", 1));
  // When the holder goes away its reservation is released, and uploads are taken again.
  { Client gone = std::move(holder); }
  ASSERT_TRUE(harness::await_metric(server.port(), "storage_api_inflight_body_bytes", 0));
  EXPECT_EQ(Client(server.port()).request("PUT", "/api/buckets/other", std::string(1000, 'o'))->status, 200);
}

TEST(BudgetTest, AnUploadTooSlowForTheMinimumRateLosesItsSlot) {
  ServerProcess server({"--body-timeout", "500", "--body-min-rate", "100"});
  ASSERT_NE(server.port(), 0);
  Client slow(server.port(), 10000ms);
  ASSERT_TRUE(slow.send("PUT /api/buckets/slow HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n"));
  // One byte every 100 ms never pauses for the 500 ms body timeout, but is 10 bytes/s against 100.
  const auto started = std::chrono::steady_clock::now();
  std::string leftover;
  while (!slow.wait_closed_within(100ms, &leftover)) {
    ASSERT_LT(std::chrono::steady_clock::now() - started, 5s) << "never cut off";
    if (!slow.send("s")) break;
  }
  EXPECT_EQ(leftover.rfind("HTTP/1.1 408 ", 0), 0u) << leftover;
  EXPECT_TRUE(harness::await_metric(server.port(), R"(storage_api_refusals_total{reason="body_timeout"})", 1));
}

TEST(BudgetTest, TheAdminListenerServesProbesAndMetricsAndTheDataPortOnlyBuckets) {
  ServerProcess server({"--admin-port", "0"});
  ASSERT_NE(server.port(), 0);
  const auto line = server.wait_for_log("\"event\":\"listening\"");
  ASSERT_TRUE(line);
  const std::size_t at = line->find("\"admin_port\":");
  ASSERT_NE(at, std::string::npos);
  const auto admin = static_cast<std::uint16_t>(std::stoi(line->substr(at + 13)));
  ASSERT_NE(admin, 0);
  EXPECT_EQ(Client(server.port()).request("GET", "/metrics")->status, 404);
  EXPECT_EQ(Client(server.port()).request("GET", "/healthz")->status, 404);
  EXPECT_EQ(Client(server.port()).request("PUT", "/api/buckets/k", "v")->status, 200);
  EXPECT_EQ(Client(admin).request("GET", "/healthz")->status, 200);
  EXPECT_EQ(Client(admin).request("GET", "/readyz")->status, 200);
  EXPECT_EQ(Client(admin).request("GET", "/api/buckets/k")->status, 404);
  const auto metrics = Client(admin).request("GET", "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("storage_api_refusals_total"), std::string::npos);
  // --healthcheck follows ADMIN_PORT.
  const auto [status, err] = run_to_exit({"--healthcheck", "--port", std::to_string(server.port()),
                                          "--admin-port", std::to_string(admin), "--host", "127.0.0.1"});
  EXPECT_EQ(status, 0) << err;
}

}  // namespace
