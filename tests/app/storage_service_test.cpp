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

  struct NoDeferral final : http::Deferrer {
    http::PendingResponse defer() override {
      ADD_FAILURE() << "the storage service answers at once";
      return {};
    }
  };

  static base::ByteBuilder bytes(std::string_view text) {
    base::ByteBuilder body;
    EXPECT_TRUE(body.reserve_more(text.size()));
    body.append(text);
    return body;
  }

  void handle(app::StorageService& service, const http::RequestHead& head, base::ByteBuilder& body,
              http::Response& response) {
    NoDeferral deferrer;
    service.handle(head, body, response, deferrer);
  }

  // The full handler sequence for a request whose body is already complete.
  http::Response call(const std::string& raw, std::string_view body_text = {}, app::StorageService* service = nullptr) {
    app::StorageService& s = service ? *service : service_;
    ParsedHead parsed = parse(raw);
    http::Response response;
    base::ByteBuilder body = bytes(body_text);
    s.on_request_begin(parsed.head);
    if (!parsed.head.has_body() || s.admit_body(parsed.head, body_text.size(), response)) {
      handle(s, parsed.head, body, response);
    }
    s.on_request_end();
    return response;
  }

  store::BucketStore store_{1000, base::HashKey{1, 2}};
  app::RequestMetrics metrics_{{0.001, 0.01}, 1};
  app::RefusalMetrics refusals_;
  metrics::Registry registry_;
  std::atomic<bool> shutting_down_{false};
  app::Logger log_{app::LogLevel::kError};
  app::ServiceContext context_{store_, metrics_, refusals_, registry_, shutting_down_, log_, false};
  app::StorageService service_{context_, 0};

  // A service over a store with room for about two 5 KB values.
  void big_store_call(const std::string& raw, std::string_view body) {
    EXPECT_EQ(call(raw, body, &big_service_).status, 200);
  }
  store::BucketStore big_store_{16 * 1024, base::HashKey{1, 2}};
  app::ServiceContext big_context_{big_store_, metrics_, refusals_, registry_, shutting_down_, log_, false};
  app::StorageService big_service_{big_context_, 0};
};

TEST_F(StorageServiceTest, BucketLifecycle) {
  EXPECT_EQ(call("PUT /api/buckets/k HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n", "abc").status, 200);
  EXPECT_GE(store_.stored_bytes(), store::BucketStore::entry_bytes(1, 3));
  const http::Response get = call("GET /api/buckets/k HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.body, "abc");
  EXPECT_EQ(get.content_type, "application/octet-stream");
  EXPECT_EQ(call("DELETE /api/buckets/k HTTP/1.1\r\nHost: a\r\n\r\n").status, 200);
  EXPECT_EQ(call("GET /api/buckets/k HTTP/1.1\r\nHost: a\r\n\r\n").status, 404);
  EXPECT_EQ(call("DELETE /api/buckets/k HTTP/1.1\r\nHost: a\r\n\r\n").status, 400);
  EXPECT_EQ(store_.stored_bytes(), 0u) << "an emptied store is charged nothing";
}

TEST_F(StorageServiceTest, InterleavedRequestsOfTwoConnectionsKeepTheirOwnRoutes) {
  // Connection A's PUT is prechecked, then its body arrives only after connection B's scrape was handled.
  ParsedHead put = parse("PUT /api/buckets/first HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n");
  http::Response put_response;
  service_.on_request_begin(put.head);
  ASSERT_TRUE(service_.admit_body(put.head, 2, put_response));

  EXPECT_EQ(call("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n").status, 200);
  EXPECT_EQ(call("GET /api/buckets/other%20id HTTP/1.1\r\nHost: a\r\n\r\n").status, 404);

  base::ByteBuilder body = bytes("ok");
  handle(service_, put.head, body, put_response);
  service_.on_request_end();
  EXPECT_EQ(put_response.status, 200);
  store::Lookup lookup;
  ASSERT_TRUE(store_.get("first", lookup));
  EXPECT_EQ(lookup.value, "ok");
  EXPECT_FALSE(store_.get("other id", lookup));
}

TEST_F(StorageServiceTest, NewBucketThatCannotFitIsRefusedBeforeItsBody) {
  ParsedHead put = parse("PUT /api/buckets/huge HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n");
  http::Response refusal;
  EXPECT_FALSE(service_.admit_body(put.head, 1001, refusal));
  EXPECT_EQ(refusal.status, 507);
  EXPECT_EQ(refusals_.value(app::RefusalReason::kStorageFull), 1u);
}

TEST_F(StorageServiceTest, AnOverwriteThatCannotFitIsRefusedBeforeItsBody) {
  // Values above the inline limit, so that each is a block charged by its size.
  const std::string put = "PUT /api/buckets/k HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n";
  big_store_call(put, std::string(5000, 'v'));
  const std::size_t available = big_store_.max_bytes() - big_store_.stored_bytes();
  auto head_for = [](std::string_view id, std::size_t length) {
    return parse("PUT /api/buckets/" + std::string(id) + " HTTP/1.1\r\nHost: a\r\nContent-Length: " +
                 std::to_string(length) + "\r\n\r\n");
  };
  // Replacing the unheld value needs only the difference.
  http::Response response;
  const std::size_t grown = 5000 + available - 64;
  EXPECT_TRUE(big_service_.admit_body(head_for("k", grown).head, grown, response));
  const std::size_t too_big = 5000 + available + 64;
  EXPECT_FALSE(big_service_.admit_body(head_for("k", too_big).head, too_big, response));
  EXPECT_EQ(response.status, 507);
  EXPECT_FALSE(big_service_.admit_body(head_for("other", available).head, available, response))
      << "a new bucket needs room for its entry too";
}

TEST_F(StorageServiceTest, RoutingErrorsWithABodyWaitForTheBodyUnlessContinueIsExpected) {
  ParsedHead post = parse("POST /api/buckets/x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n");
  http::Response response;
  EXPECT_TRUE(service_.admit_body(post.head, 2, response)) << "reading 2 bytes keeps the connection usable";
  base::ByteBuilder body = bytes("xx");
  handle(service_, post.head, body, response);
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(response.allow, "GET, HEAD, PUT, DELETE");

  ParsedHead expect = parse("POST /api/buckets/x HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
  http::Response early;
  EXPECT_FALSE(service_.admit_body(expect.head, 2, early));
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
  http::ResponseRecord found;
  found.status = 404;
  found.method = get.head.method;
  found.path = get.head.path;
  found.request_line_parsed = true;
  found.started = std::chrono::steady_clock::now();
  service_.on_response(found);
  http::ResponseRecord unparsed;
  unparsed.status = 400;
  unparsed.started = std::chrono::steady_clock::now();
  service_.on_response(unparsed);
  std::string text;
  registry_.render(text);
  EXPECT_NE(text.find(R"(http_request_duration_seconds_count{method="GET",path="/api/buckets/{id}",status="404"} 1)"),
            std::string::npos) << text;
  EXPECT_NE(text.find(R"(http_request_duration_seconds_count{method="other",path="unparsed",status="400"} 1)"),
            std::string::npos) << text;
  EXPECT_EQ(text.find("secret-id"), std::string::npos);
}

TEST_F(StorageServiceTest, AnAdminListenerServesOnlyTheOperationalRoutesAndTheDataListenerOnlyBuckets) {
  app::StorageService data(context_, 0, app::RouteSet::kData);
  app::StorageService admin(context_, 0, app::RouteSet::kAdmin);
  EXPECT_EQ(call("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", {}, &data).status, 404);
  EXPECT_EQ(call("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", {}, &data).status, 404);
  EXPECT_EQ(call("PUT /api/buckets/k HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n", "v", &data).status, 200);
  EXPECT_EQ(call("GET /api/buckets/k HTTP/1.1\r\nHost: a\r\n\r\n", {}, &admin).status, 404);
  EXPECT_EQ(call("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n", {}, &admin).status, 200);
  EXPECT_EQ(call("GET /readyz HTTP/1.1\r\nHost: a\r\n\r\n", {}, &admin).status, 200);
  EXPECT_EQ(call("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", {}, &admin).status, 200);
}

}  // namespace
