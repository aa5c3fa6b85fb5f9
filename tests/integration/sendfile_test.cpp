// Large values in memory files, with the real binary: they are received into files, sent from them
// byte-identical (whole, as ranges, to pipelined and to slow readers, and to a reader that half-closes),
// their descriptors are given back when the last reader is done, a full allowance or SENDFILE_MIN_BYTES=0
// keeps values on the heap, and a value recovered from the log goes back into a file.
#include <dirent.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

#include "harness.h"
#include "support/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using harness::Client;
using harness::ServerProcess;

std::string random_bytes(std::size_t size, unsigned seed) {
  std::string value(size, '\0');
  std::mt19937 random(seed);
  for (char& c : value) c = static_cast<char>(random());
  return value;
}

std::size_t descriptors_of(pid_t pid) {
  std::size_t count = 0;
  DIR* dir = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (dir == nullptr) return 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  ::closedir(dir);
  return count;
}

std::string chunked(const std::string& body, std::size_t chunk) {
  std::string out;
  char size[32];
  for (std::size_t at = 0; at < body.size(); at += chunk) {
    const std::size_t n = std::min(chunk, body.size() - at);
    std::snprintf(size, sizeof size, "%zx\r\n", n);
    out += size;
    out.append(body, at, n);
    out += "\r\n";
  }
  return out + "0\r\n\r\n";
}

TEST(SendfileTest, LargeValuesAreReceivedIntoFilesAndSentFromThemUnchanged) {
  ServerProcess server;
  const std::string big = random_bytes(3 << 20, 1);
  const std::string grown = random_bytes(700 * 1000 + 17, 2);
  const std::string small = random_bytes(10 * 1000, 3);
  Client c(server.port());
  ASSERT_EQ(c.request("GET", "/api/buckets/big")->status, 404);  // the connection is accepted by now
  const std::size_t baseline_fds = descriptors_of(server.pid());
  ASSERT_EQ(c.request("PUT", "/api/buckets/big", big)->status, 200);
  ASSERT_TRUE(c.send("PUT /api/buckets/grown HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
                     chunked(grown, 9000)));
  ASSERT_EQ(c.read_response()->status, 200);
  ASSERT_EQ(c.request("PUT", "/api/buckets/small", small)->status, 200);
  EXPECT_TRUE(harness::await_metric(server.port(), "storage_api_value_files", 2)) << "the 10 KB value stays on the heap";
  // The scrapes' connections come and go; the two files stay.
  EXPECT_TRUE(harness::eventually([&] { return descriptors_of(server.pid()) == baseline_fds + 2; }));

  EXPECT_EQ(c.request("GET", "/api/buckets/big")->body, big);
  EXPECT_EQ(c.request("GET", "/api/buckets/grown")->body, grown);
  EXPECT_EQ(c.request("GET", "/api/buckets/small")->body, small);
  const auto range = c.request("GET", "/api/buckets/big", {}, "Range: bytes=1000000-2500000\r\n");
  ASSERT_EQ(range->status, 206);
  EXPECT_EQ(range->body, big.substr(1000000, 1500001));
  ASSERT_TRUE(c.send(harness::build_request("HEAD", "/api/buckets/big")));
  const auto head = c.read_response(true);
  EXPECT_EQ(head->header("content-length"), std::to_string(big.size()));
  EXPECT_TRUE(head->body.empty());
  // The connection is still in step after all of them.
  EXPECT_EQ(c.request("GET", "/api/buckets/small")->body, small);
}

TEST(SendfileTest, PipelinedGetsThenAHalfCloseGetEveryByteAndTheClose) {
  ServerProcess server;
  const std::string big = random_bytes(2 << 20, 4);
  Client c(server.port(), 10000ms);
  ASSERT_EQ(c.request("PUT", "/api/buckets/big", big)->status, 200);
  std::string requests;
  for (int i = 0; i < 3; ++i) requests += harness::build_request("GET", "/api/buckets/big");
  requests += harness::build_request("GET", "/api/buckets/missing");
  ASSERT_TRUE(c.send(requests));
  c.shutdown_write();
  for (int i = 0; i < 3; ++i) {
    const auto got = c.read_response();
    ASSERT_TRUE(got) << i;
    EXPECT_EQ(got->status, 200);
    EXPECT_TRUE(got->body == big) << "response " << i << " differs";
  }
  EXPECT_EQ(c.read_response()->status, 404);
  EXPECT_TRUE(c.wait_closed_within(5000ms));
}

TEST(SendfileTest, ASlowReaderKeepsTheValueItReadsAfterItIsReplacedAndDeleted) {
  ServerProcess server;
  // Larger than what the server's send buffer and the reader's receive buffer hold together.
  const std::string first = random_bytes(8 << 20, 5);
  Client writer(server.port());
  ASSERT_EQ(writer.request("PUT", "/api/buckets/v", first)->status, 200);
  const std::size_t baseline_fds = descriptors_of(server.pid());
  Client reader(server.port(), 10000ms);
  ASSERT_TRUE(reader.send(harness::build_request("GET", "/api/buckets/v")));
  // Once the answer has begun, the server is held part-way through the value by a reader that does not
  // read yet; then the value is replaced and deleted under that reader.
  char peek = 0;
  ASSERT_EQ(::recv(reader.fd(), &peek, 1, MSG_PEEK), 1);
  ASSERT_EQ(writer.request("PUT", "/api/buckets/v", random_bytes(8 << 20, 6))->status, 200);
  ASSERT_EQ(writer.request("DELETE", "/api/buckets/v")->status, 200);
  EXPECT_EQ(harness::metric_value(harness::scrape(server.port()), "storage_api_value_files"), 1)
      << "the reader's value lives on while it is being sent";
  const auto got = reader.read_response();
  ASSERT_TRUE(got);
  EXPECT_TRUE(got->body == first) << "the slow reader got other bytes than the value it asked for";
  EXPECT_TRUE(harness::await_metric(server.port(), "storage_api_value_files", 0));
  EXPECT_TRUE(harness::eventually([&] { return descriptors_of(server.pid()) <= baseline_fds + 1; }))
      << "the memory files' descriptors are given back (the reader's socket aside)";
}

TEST(SendfileTest, WithSendfileOffValuesStayOnTheHeap) {
  ServerProcess server({}, {{"SENDFILE_MIN_BYTES", "0"}});
  const std::string big = random_bytes(1 << 20, 7);
  Client c(server.port());
  ASSERT_EQ(c.request("PUT", "/api/buckets/big", big)->status, 200);
  EXPECT_EQ(c.request("GET", "/api/buckets/big")->body, big);
  const std::string metrics = harness::scrape(server.port());
  EXPECT_EQ(harness::metric_value(metrics, "storage_api_value_files"), 0);
  EXPECT_EQ(harness::metric_value(metrics, "storage_api_value_files_limit"), 0);
}

TEST(SendfileTest, PastTheAllowanceValuesStayOnTheHeapAndAreCounted) {
  // A descriptor limit (inherited by the server) that leaves room for exactly five memory files once the
  // connections, the admin connections and the margin are set aside.
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit lowered = saved;
  lowered.rlim_cur = std::min<rlim_t>(saved.rlim_cur, 600);
  ASSERT_GT(lowered.rlim_cur, 300u);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lowered), 0);
  const rlim_t connections = lowered.rlim_cur - 256 - 1 - 5;
  ServerProcess server({"--max-connections", std::to_string(connections), "--admin-max-connections", "1"},
                       {{"SENDFILE_MIN_BYTES", "64KiB"}});
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  const std::optional<double> limit =
      harness::metric_value(harness::scrape(server.port()), "storage_api_value_files_limit");
  ASSERT_EQ(limit, 5);
  Client c(server.port());
  const std::string value = random_bytes(64 * 1024, 8);
  const int count = static_cast<int>(*limit) + 3;
  for (int i = 0; i < count; ++i) {
    ASSERT_EQ(c.request("PUT", "/api/buckets/v" + std::to_string(i), value)->status, 200) << i;
  }
  const std::string after = harness::scrape(server.port());
  EXPECT_EQ(harness::metric_value(after, "storage_api_value_files"), *limit);
  EXPECT_EQ(harness::metric_value(after, "storage_api_value_file_refusals_total"), 3) << "one per value, not per growth step";
  for (int i : {0, count - 1}) EXPECT_EQ(c.request("GET", "/api/buckets/v" + std::to_string(i))->body, value) << i;
}

TEST(SendfileTest, ARecoveredLargeValueIsSentFromAFileAgain) {
  test_support::TempDir dir;
  const std::vector<std::pair<std::string, std::string>> env = {{"DATA_DIR", (dir.path() / "data").string()}};
  const std::string big = random_bytes(1 << 20, 9);
  {
    ServerProcess server({}, env);
    ASSERT_EQ(Client(server.port()).request("PUT", "/api/buckets/big", big)->status, 200);
    server.signal(SIGKILL);
    server.wait_exit();
  }
  ServerProcess server({}, env);
  EXPECT_EQ(harness::metric_value(harness::scrape(server.port()), "storage_api_value_files"), 1);
  EXPECT_EQ(Client(server.port()).request("GET", "/api/buckets/big")->body, big);
}

}  // namespace
