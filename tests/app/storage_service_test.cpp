// StorageService without sockets: its routing, status codes and store effects, and that one handler
// instance serves interleaved requests of several connections (it is shared by a whole event loop).
#include "app/storage_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "http/request_parser.h"

namespace {

class StorageServiceTest : public ::testing::Test {
 protected:
  StorageServiceTest() { registry_.add(metrics_); }

  // Parses `raw` into a head that stays valid while the returned object lives.
  struct ParsedHead {
    std::string bytes;
    http::RequestHead head;
  };
  static ParsedHead parse(std::string raw) {
    ParsedHead parsed{std::move(raw), {}};
    const auto result = http::parse_request_head(parsed.bytes, http::ParserLimits{}, parsed.head);
    EXPECT_EQ(result.status, http::ParseStatus::kComplete) << parsed.bytes;
    return parsed;
  }

  // The full handler sequence for a request whose body is already complete.
  http::Response call(const std::string& raw, std::string body = {}) {
    ParsedHead parsed = parse(raw);
    http::Response response;
    service_.on_request_begin(parsed.head);
    if (service_.precheck(parsed.head, response)) service_.handle(parsed.head, body, response);
    service_.on_request_end();
    return response;
  }

  store::BucketStore store_{1000, base::HashKey{1, 2}};
  app::RequestMetrics metrics_{{0.001, 0.01}, 1};
  metrics::Registry registry_;
  std::atomic<bool> shutting_down_{false};
  app::Logger log_{app::LogLevel::kError};
  app::ServiceContext context_{store_, metrics_, registry_, shutting_down_, log_, false};
  app::StorageService service_{context_, 0};
};

TEST_F(StorageServiceTest, BucketLifecycle) {
  EXPECT_EQ(call("PUT /api/buckets/k HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n", "abc").status, 200);
  EXPECT_EQ(store_.stored_bytes(), store::BucketStore::entry_cost(1, 3));
  const http::Response get = call("GET /api/buckets/k HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, "abc");
  EXPECT_EQ(get.content_type, "application/octet-stream");
  EXPECT_EQ(call("DELETE /api/buckets/k HTTP/1.1\r\nHost: a\r\n\r\n").status, 200);
  EXPECT_EQ(call("GET /api/buckets/k HTTP/1.1\r\nHost: a\r\n\r\n").status, 404);
  EXPECT_EQ(call("DELETE /api/buckets/k HTTP/1.1\r\nHost: a\r\n\r\n").status, 400);
}

TEST_F(StorageServiceTest, InterleavedRequestsOfTwoConnectionsKeepTheirOwnRoutes) {
  // Connection A's PUT is prechecked, then its body arrives only after connection B's scrape was handled.
  ParsedHead put = parse("PUT /api/buckets/first HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n");
  http::Response put_response;
  service_.on_request_begin(put.head);
  ASSERT_TRUE(service_.precheck(put.head, put_response));

  EXPECT_EQ(call("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n").status, 200);
  EXPECT_EQ(call("GET /api/buckets/other%20id HTTP/1.1\r\nHost: a\r\n\r\n").status, 404);

  std::string body = "ok";
  service_.handle(put.head, body, put_response);
  service_.on_request_end();
  EXPECT_EQ(put_response.status, 200);
  ASSERT_TRUE(store_.get("first"));
  EXPECT_EQ(store_.get("first").view(), "ok");
  EXPECT_FALSE(store_.get("other id"));
}

TEST_F(StorageServiceTest, NewBucketThatCannotFitIsRefusedBeforeItsBody) {
  ParsedHead put = parse("PUT /api/buckets/huge HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n");
  http::Response refusal;
  EXPECT_FALSE(service_.precheck(put.head, refusal));
  EXPECT_EQ(refusal.status, 507);
}

TEST_F(StorageServiceTest, AnOverwriteThatCannotFitIsRefusedBeforeItsBody) {
  const std::string put = "PUT /api/buckets/k HTTP/1.1\r\nHost: a\r\nContent-Length: 500\r\n\r\n";
  EXPECT_EQ(call(put, std::string(500, 'v')).status, 200);
  // Replacing the unheld value needs only the difference: 800 bytes fit where a new 800-byte bucket would not.
  ParsedHead grows = parse("PUT /api/buckets/k HTTP/1.1\r\nHost: a\r\nContent-Length: 800\r\n\r\n");
  http::Response response;
  EXPECT_TRUE(service_.precheck(grows.head, response));
  ParsedHead too_big = parse("PUT /api/buckets/k HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n");
  EXPECT_FALSE(service_.precheck(too_big.head, response));
  EXPECT_EQ(response.status, 507);
  ParsedHead other = parse("PUT /api/buckets/other HTTP/1.1\r\nHost: a\r\nContent-Length: 300\r\n\r\n");
  EXPECT_FALSE(service_.precheck(other.head, response)) << "a new bucket needs room for its entry too";
}

TEST_F(StorageServiceTest, RoutingErrorsWithABodyWaitForTheBodyUnlessContinueIsExpected) {
  ParsedHead post = parse("POST /api/buckets/x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n");
  http::Response response;
  EXPECT_TRUE(service_.precheck(post.head, response)) << "reading 2 bytes keeps the connection usable";
  std::string body = "xx";
  service_.handle(post.head, body, response);
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(response.allow, "GET, HEAD, PUT, DELETE");

  ParsedHead expect = parse("POST /api/buckets/x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
  http::Response early;
  EXPECT_FALSE(service_.precheck(expect.head, early));
  EXPECT_EQ(early.status, 405);
}

TEST_F(StorageServiceTest, ReadinessFollowsShutdown) {
  EXPECT_EQ(call("GET /readyz HTTP/1.1\r\nHost: a\r\n\r\n").status, 200);
  shutting_down_ = true;
  EXPECT_EQ(call("GET /readyz HTTP/1.1\r\nHost: a\r\n\r\n").status, 503);
  EXPECT_EQ(call("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n").status, 200) << "liveness does not change";
}

TEST_F(StorageServiceTest, ResponsesAreCountedByRouteTemplate) {
  ParsedHead get = parse("GET /api/buckets/secret-id HTTP/1.1\r\nHost: a\r\n\r\n");
  service_.on_response(&get.head, 404, std::chrono::microseconds(20));
  service_.on_response(nullptr, 400, std::chrono::microseconds(5));
  std::string text;
  registry_.render(text);
  EXPECT_NE(text.find(R"(http_request_duration_seconds_count{method="GET",path="/api/buckets/{id}",status="404"} 1)"),
            std::string::npos) << text;
  EXPECT_NE(text.find(R"(http_request_duration_seconds_count{method="other",path="unparsed",status="400"} 1)"),
            std::string::npos) << text;
  EXPECT_EQ(text.find("secret-id"), std::string::npos);
}

}  // namespace
