// /metrics against the real binary: counts that match the requests made, a closed label set, gauges that
// follow the store, and output that promtool accepts.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "harness.h"
#include "store/bucket_store.h"

namespace {

using harness::Client;
using harness::metric_value;
using harness::scrape;
using harness::ServerProcess;

const char* kBucketSeries = R"(http_request_duration_seconds_count{method="%s",path="/api/buckets/{id}",status="%s"})";

std::string series(const char* method, const char* status) {
  char text[256];
  std::snprintf(text, sizeof text, kBucketSeries, method, status);
  return text;
}

TEST(MetricsTest, CountsMatchTheRequestsMadeExactly) {
  ServerProcess server;
  ASSERT_NE(server.port(), 0);
  Client c(server.port());
  for (int i = 0; i < 7; ++i) ASSERT_EQ(c.request("PUT", "/api/buckets/id-" + std::to_string(i), "v")->status, 200);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(c.request("GET", "/api/buckets/id-" + std::to_string(i))->status, 200);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(c.request("GET", "/api/buckets/missing-" + std::to_string(i))->status, 404);
  ASSERT_EQ(c.request("DELETE", "/api/buckets/id-0")->status, 200);
  ASSERT_EQ(c.request("DELETE", "/api/buckets/id-0")->status, 400);
  ASSERT_EQ(c.request("GET", "/no/such/path")->status, 404);
  ASSERT_EQ(c.request("BREW", "/api/buckets/x")->status, 501);

  const std::string text = scrape(server.port());
  EXPECT_EQ(metric_value(text, series("PUT", "200")), 7);
  EXPECT_EQ(metric_value(text, series("GET", "200")), 5);
  EXPECT_EQ(metric_value(text, series("GET", "404")), 3);
  EXPECT_EQ(metric_value(text, series("DELETE", "200")), 1);
  EXPECT_EQ(metric_value(text, series("DELETE", "400")), 1);
  EXPECT_EQ(metric_value(text, R"(http_request_duration_seconds_count{method="GET",path="unmatched",status="404"})"), 1);
  EXPECT_EQ(metric_value(text, R"(http_request_duration_seconds_count{method="other",path="/api/buckets/{id}",status="501"})"), 1);
  EXPECT_EQ(metric_value(text, R"(http_request_duration_seconds_bucket{method="PUT",path="/api/buckets/{id}",status="200",le="+Inf"})"), 7);
  // The scrape in progress is the one request in flight.
  EXPECT_EQ(metric_value(text, "http_requests_in_flight"), 1);
  EXPECT_EQ(metric_value(text, "storage_api_buckets"), 6);
  // Six small entries: their slots, in pages charged whole (a few hundred bytes each, one per shard used).
  EXPECT_GE(metric_value(text, "storage_api_stored_bytes"), 6 * store::BucketStore::entry_bytes(4, 1));
  EXPECT_LE(metric_value(text, "storage_api_stored_bytes"), 6 * 1024);
  EXPECT_EQ(metric_value(text, "http_connections_open"), 2);  // c and the scraper
  EXPECT_EQ(text.find("id-1"), std::string::npos) << "a raw id leaked into a label";
  EXPECT_EQ(text.find("missing"), std::string::npos);
  EXPECT_EQ(text.find("/no/such/path"), std::string::npos);
}

TEST(MetricsTest, RefusalsBeforeRoutingAreCounted) {
  ServerProcess server;
  ASSERT_NE(server.port(), 0);
  const auto refused = [&](std::string_view request, int status) {
    Client c(server.port());
    ASSERT_TRUE(c.send(request));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << request;
  };
  refused("GET /x HTTP/1.1 extra\r\nHost: a\r\n\r\n", 400);     // the request line itself is broken
  refused("GET /x HTTP/1.1\r\nHost: a\r\nBad Header: x\r\n\r\n", 400);  // a valid request line, then not
  refused("PUT /api/buckets/a HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", 417);
  refused("PUT /api/buckets/a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: x, chunked\r\n\r\n", 501);
  const std::string text = scrape(server.port());
  EXPECT_EQ(metric_value(text, R"(http_request_duration_seconds_count{method="other",path="unparsed",status="400"})"), 1);
  // Once the request line is known, the refusal is labelled with its method and route.
  EXPECT_EQ(metric_value(text, R"(http_request_duration_seconds_count{method="GET",path="unmatched",status="400"})"), 1);
  EXPECT_EQ(metric_value(text, R"(http_request_duration_seconds_count{method="PUT",path="/api/buckets/{id}",status="417"})"), 1);
  EXPECT_EQ(metric_value(text, R"(http_request_duration_seconds_count{method="PUT",path="/api/buckets/{id}",status="501"})"), 1);
}

TEST(MetricsTest, StoredBytesFollowTheStore) {
  ServerProcess server;
  ASSERT_NE(server.port(), 0);
  Client c(server.port());
  ASSERT_EQ(c.request("PUT", "/api/buckets/a", std::string(100, 'a'))->status, 200);
  ASSERT_EQ(c.request("PUT", "/api/buckets/b", std::string(50, 'b'))->status, 200);
  ASSERT_EQ(c.request("PUT", "/api/buckets/a", std::string(10, 'a'))->status, 200);
  std::string text = scrape(server.port());
  const auto two = metric_value(text, "storage_api_stored_bytes");
  EXPECT_GE(two, store::BucketStore::entry_bytes(1, 10) + store::BucketStore::entry_bytes(1, 50));
  EXPECT_EQ(metric_value(text, "storage_api_buckets"), 2);
  ASSERT_EQ(c.request("DELETE", "/api/buckets/b")->status, 200);
  text = scrape(server.port());
  const auto one = metric_value(text, "storage_api_stored_bytes");
  EXPECT_GE(one, store::BucketStore::entry_bytes(1, 10));
  EXPECT_LT(one, two);
  EXPECT_EQ(metric_value(text, "storage_api_buckets"), 1);
  ASSERT_EQ(c.request("DELETE", "/api/buckets/a")->status, 200);
  text = scrape(server.port());
  EXPECT_EQ(metric_value(text, "storage_api_stored_bytes"), 0) << "an empty store is charged nothing";
  EXPECT_EQ(metric_value(text, "storage_api_buckets"), 0);
}

TEST(MetricsTest, ConfiguredBucketsAreUsed) {
  ServerProcess server({"--histogram-buckets", "0.5,1,2"});
  ASSERT_NE(server.port(), 0);
  Client c(server.port());
  ASSERT_EQ(c.request("GET", "/healthz")->status, 200);
  const std::string text = scrape(server.port());
  EXPECT_EQ(metric_value(text, R"(http_request_duration_seconds_bucket{method="GET",path="/healthz",status="200",le="0.5"})"), 1);
  EXPECT_EQ(metric_value(text, R"(http_request_duration_seconds_bucket{method="GET",path="/healthz",status="200",le="2"})"), 1);
  EXPECT_EQ(text.find(R"(le="0.005")"), std::string::npos);
}

TEST(MetricsTest, PromtoolAcceptsTheExposition) {
  if (std::system("command -v promtool >/dev/null 2>&1") != 0) {
    if (std::getenv("STORAGE_API_ALLOW_NO_PROMTOOL")) GTEST_SKIP() << "promtool not installed";
    FAIL() << "promtool is required (Debian package prometheus); set STORAGE_API_ALLOW_NO_PROMTOOL=1 to skip";
  }
  ServerProcess server;
  ASSERT_NE(server.port(), 0);
  Client c(server.port());
  ASSERT_EQ(c.request("PUT", "/api/buckets/p", "v")->status, 200);
  ASSERT_EQ(c.request("GET", "/api/buckets/p")->status, 200);
  ASSERT_EQ(c.request("GET", "/api/buckets/q")->status, 404);
  ASSERT_EQ(c.request("POST", "/metrics", "x")->status, 405);
  const std::string text = scrape(server.port());
  const std::string path = ::testing::TempDir() + "/exposition.txt";
  const std::string report = ::testing::TempDir() + "/promtool.txt";
  std::ofstream(path) << text;
  const int rc = std::system(("promtool check metrics < '" + path + "' > '" + report + "' 2>&1").c_str());
  std::ifstream in(report);
  const std::string output((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(rc, 0) << output;
  EXPECT_EQ(output, "") << output;
}

}  // namespace
