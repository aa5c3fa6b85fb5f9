// The service's HTTP contract, end to end: the real binary on an ephemeral loopback port.
#include <gtest/gtest.h>

#include <string>

#include "harness.h"

namespace {

using harness::Client;
using harness::ServerProcess;

class RoutesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServerProcess(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_->port(), 0) << "server did not report its port"; }
  Client client() { return Client(server_->port()); }

  static ServerProcess* server_;
};
ServerProcess* RoutesTest::server_ = nullptr;

TEST_F(RoutesTest, PutThenGetReturnsTheExactBytes) {
  Client c = client();
  auto put = c.request("PUT", "/api/buckets/greeting", "hello world");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 200);
  EXPECT_EQ(put->body, "");
  auto get = c.request("GET", "/api/buckets/greeting");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->header("content-type"), "application/octet-stream");
  EXPECT_EQ(get->body, "hello world");
  EXPECT_FALSE(get->header("date").empty());
}

TEST_F(RoutesTest, BinaryBodyWithEveryByteValueRoundTrips) {
  std::string body;
  for (int round = 0; round < 4; ++round) {
    for (int b = 0; b < 256; ++b) body.push_back(static_cast<char>(b));
  }
  Client c = client();
  ASSERT_EQ(c.request("PUT", "/api/buckets/binary", body)->status, 200);
  auto get = c.request("GET", "/api/buckets/binary");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->body, body);
}

TEST_F(RoutesTest, OneMebibyteBodyRoundTrips) {
  std::string body(1 << 20, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>((i * 2654435761u) >> 13);
  Client c = client();
  ASSERT_EQ(c.request("PUT", "/api/buckets/big", body)->status, 200);
  auto get = c.request("GET", "/api/buckets/big");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->header("content-length"), std::to_string(body.size()));
  EXPECT_TRUE(get->body == body);
}

TEST_F(RoutesTest, PutOverwrites) {
  Client c = client();
  ASSERT_EQ(c.request("PUT", "/api/buckets/over", "first")->status, 200);
  ASSERT_EQ(c.request("PUT", "/api/buckets/over", "second, longer")->status, 200);
  EXPECT_EQ(c.request("GET", "/api/buckets/over")->body, "second, longer");
}

TEST_F(RoutesTest, EmptyBodyIsAStoredEmptyBucket) {
  Client c = client();
  ASSERT_EQ(c.request("PUT", "/api/buckets/empty", "")->status, 200);
  auto get = c.request("GET", "/api/buckets/empty");
  EXPECT_EQ(get->status, 200);
  EXPECT_EQ(get->body, "");
  EXPECT_EQ(get->header("content-length"), "0");
}

TEST_F(RoutesTest, GetUnknownIsNotFoundJson) {
  auto get = client().request("GET", "/api/buckets/never-stored");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 404);
  EXPECT_EQ(get->header("content-type"), "application/json");
  EXPECT_EQ(get->body, R"({"error": "not found"})");
}

TEST_F(RoutesTest, DeleteExistingIsOkAndRemovesIt) {
  Client c = client();
  ASSERT_EQ(c.request("PUT", "/api/buckets/doomed", "x")->status, 200);
  auto del = c.request("DELETE", "/api/buckets/doomed");
  EXPECT_EQ(del->status, 200);
  EXPECT_EQ(c.request("GET", "/api/buckets/doomed")->status, 404);
}

TEST_F(RoutesTest, DeleteUnknownIsBadRequestJson) {
  auto del = client().request("DELETE", "/api/buckets/not-there");
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 400);
  EXPECT_EQ(del->header("content-type"), "application/json");
  EXPECT_EQ(del->body, R"({"error": "bad request"})");
}

// The replaced Flask service's own expectations, with its DELETE bug fixed (it answered 500).
TEST_F(RoutesTest, OldServiceLifecycle) {
  Client c = client();
  EXPECT_EQ(c.request("PUT", "/api/buckets/1", "data-1")->status, 200);
  EXPECT_EQ(c.request("GET", "/api/buckets/1")->body, "data-1");
  EXPECT_EQ(c.request("DELETE", "/api/buckets/1")->status, 200);
  EXPECT_EQ(c.request("GET", "/api/buckets/1")->status, 404);
  EXPECT_EQ(c.request("DELETE", "/api/buckets/1")->status, 400);
}

TEST_F(RoutesTest, HeadHasLengthButNoBody) {
  Client c = client();
  ASSERT_EQ(c.request("PUT", "/api/buckets/headed", "12345")->status, 200);
  auto head = c.request("HEAD", "/api/buckets/headed");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-length"), "5");
  // The next response must start right away: a body sent after HEAD would show up as garbage here.
  auto get = c.request("GET", "/api/buckets/headed");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->body, "12345");
}

TEST_F(RoutesTest, IdIsPercentDecodedAndQueryIgnored) {
  Client c = client();
  ASSERT_EQ(c.request("PUT", "/api/buckets/a%20b%2Fc?ignored=1", "spaced")->status, 200);
  EXPECT_EQ(c.request("GET", "/api/buckets/a%20b%2fc")->body, "spaced");
  EXPECT_EQ(c.request("GET", "/api/buckets/%61%20b%2Fc?x")->body, "spaced");
}

TEST_F(RoutesTest, AbsoluteFormTargetIsServed) {
  Client c = client();
  ASSERT_EQ(c.request("PUT", "http://localhost/api/buckets/absolute", "abs")->status, 200);
  EXPECT_EQ(c.request("GET", "/api/buckets/absolute")->body, "abs");
}

TEST_F(RoutesTest, BadIdsAreBadRequest) {
  Client c = client();
  EXPECT_EQ(c.request("GET", "/api/buckets/")->status, 400);
  EXPECT_EQ(c.request("GET", "/api/buckets/%zz")->status, 400);
  EXPECT_EQ(c.request("GET", "/api/buckets/abc%4")->status, 400);
  EXPECT_EQ(c.request("GET", "/api/buckets/" + std::string(1025, 'k'))->status, 400);
  EXPECT_EQ(c.request("GET", "/api/buckets/" + std::string(1024, 'k'))->status, 404);
}

TEST_F(RoutesTest, UnknownPathIsNotFoundJson) {
  for (const char* path : {"/", "/api", "/api/buckets", "/api/buckets/a/b", "/metrics/", "/nope"}) {
    auto r = client().request("GET", path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path;
    EXPECT_EQ(r->body, R"({"error": "not found"})") << path;
  }
}

TEST_F(RoutesTest, OtherMethodOnKnownRouteIsMethodNotAllowedWithAllow) {
  Client c = client();
  auto post = c.request("POST", "/api/buckets/x", "body");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
  EXPECT_EQ(post->header("allow"), "GET, HEAD, PUT, DELETE");
  auto put_metrics = Client(server_->port()).request("PUT", "/metrics", "x");
  ASSERT_TRUE(put_metrics);
  EXPECT_EQ(put_metrics->status, 405);
  EXPECT_EQ(put_metrics->header("allow"), "GET, HEAD");
}

TEST_F(RoutesTest, HealthAndReadiness) {
  Client c = client();
  auto health = c.request("GET", "/healthz");
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->header("content-type"), "application/json");
  EXPECT_EQ(c.request("GET", "/readyz")->status, 200);
}

TEST_F(RoutesTest, MetricsUsesTheExpositionContentType) {
  auto metrics = client().request("GET", "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(metrics->body.find("# TYPE http_request_duration_seconds histogram"), std::string::npos);
  EXPECT_NE(metrics->body.find("# TYPE process_resident_memory_bytes gauge"), std::string::npos);
}

}  // namespace
