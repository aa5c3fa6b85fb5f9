// BucketRequests without sockets: object semantics over a real store, and what each answer shares with it.
#include "app/bucket_requests.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "http/request_parser.h"

namespace {

// Without a durable log every answer is immediate.
class NeverDefers final : public http::Deferrer {
 public:
  http::PendingResponse defer() override {
    ADD_FAILURE() << "an answer was deferred";
    return {};
  }
};
NeverDefers never_defers;

struct Parsed {
  std::string bytes;
  http::RequestHead head;
};

Parsed parse(std::string method, std::string id, std::string fields = {}) {
  Parsed parsed{method + " /api/buckets/" + id + " HTTP/1.1\r\nHost: x\r\n" + fields + "\r\n", {}};
  EXPECT_EQ(http::parse_request_head(parsed.bytes, http::ParserLimits{}, parsed.head).status,
            http::ParseStatus::kComplete)
      << parsed.bytes;
  return parsed;
}

class BucketRequestsTest : public ::testing::Test {
 protected:
  http::Response call(const std::string& method, const std::string& id, const std::string& fields = {},
                      std::string_view body_text = {}) {
    Parsed parsed = parse(method, id, fields);
    http::Response response;
    if (!requests_.admit(parsed.head, response)) return response;
    base::ByteBuilder body;
    EXPECT_TRUE(body.reserve_more(body_text.size()));
    body.append(body_text);
    requests_.handle(parsed.head, id, body, response, never_defers);
    // The response's views may point into the request's bytes only through what it owns: keep them as text.
    last_ = std::string(response.body);
    return response;
  }

  base::HashKey key_{};
  store::BucketStore store_{64 << 20, key_};
  app::RefusalMetrics refusals_;
  app::BucketRequests requests_{store_, nullptr, refusals_};
  std::string last_;
};

TEST_F(BucketRequestsTest, PutAnswersTheEtagThatGetAndHeadCarry) {
  const http::Response put = call("PUT", "a", "Content-Type: text/plain\r\n", "hello");
  EXPECT_EQ(put.status, 200);
  const std::string etag(put.etag);
  EXPECT_EQ(etag.size(), 18u);
  const http::Response get = call("GET", "a");
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(std::string(get.etag), etag);
  EXPECT_EQ(get.content_type, "text/plain");
  EXPECT_TRUE(get.accept_ranges);
  EXPECT_EQ(last_, "hello");
  EXPECT_FALSE(get.last_modified.empty());
}

TEST_F(BucketRequestsTest, AMatchingIfNoneMatchAnswers304WithTheETagOnly) {
  const std::string etag(call("PUT", "b", {}, "x").etag);
  const http::Response hit = call("GET", "b", "If-None-Match: " + etag + "\r\n");
  EXPECT_EQ(hit.status, 304);
  EXPECT_EQ(std::string(hit.etag), etag);
  EXPECT_TRUE(hit.last_modified.empty()) << "RFC 9110 15.4.5: no Last-Modified beside an ETag";
  EXPECT_TRUE(hit.content_type.empty());
  const http::Response by_date = call("GET", "b", "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n");
  EXPECT_EQ(by_date.status, 304);
  EXPECT_EQ(std::string(by_date.etag), etag);
  EXPECT_TRUE(by_date.last_modified.empty());
  EXPECT_TRUE(hit.body.empty());
  EXPECT_FALSE(hit.body_owner);
}

// The usual revalidation (one If-None-Match of exactly the current tag) and everything near it that needs
// the whole evaluation: the answer is the one RFC 9110 13.2.2 gives either way.
TEST_F(BucketRequestsTest, IfNoneMatchOfTheCurrentTagAndItsNeighbours) {
  const std::string etag(call("PUT", "r", {}, "value").etag);
  const std::string stale = "\"0000000000000000\"";
  EXPECT_EQ(call("GET", "r", "If-None-Match: " + etag + "\r\n").status, 304);
  EXPECT_EQ(call("HEAD", "r", "If-None-Match: " + etag + "\r\n").status, 304);
  EXPECT_EQ(call("GET", "r", "if-none-match: W/" + etag + "\r\n").status, 304) << "weak comparison";
  EXPECT_EQ(call("GET", "r", "If-None-Match: " + stale + ", " + etag + "\r\n").status, 304);
  EXPECT_EQ(call("GET", "r", "If-None-Match: " + stale + "\r\n").status, 200);
  EXPECT_EQ(call("GET", "r", "If-None-Match: " + etag + "\r\nIf-None-Match: bad\r\n").status, 400)
      << "the second line makes the list malformed";
  EXPECT_EQ(call("GET", "r", "If-None-Match: " + etag + "\r\nIf-None-Match: " + stale + "\r\n").status, 304);
  EXPECT_EQ(call("GET", "r", "If-Match: " + stale + "\r\nIf-None-Match: " + etag + "\r\n").status, 412)
      << "If-Match is evaluated first";
  EXPECT_EQ(call("GET", "r", "If-Unmodified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\nIf-None-Match: " + etag + "\r\n")
                .status,
            412);
  EXPECT_EQ(call("GET", "r", "If-None-Match: " + etag + "\r\nIf-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n")
                .status,
            304)
      << "If-Modified-Since is ignored beside If-None-Match";
}

TEST_F(BucketRequestsTest, ARangeOfALargeValueIsASliceOfTheStoredBytes) {
  const std::string value(256 * 1024, 'v');
  ASSERT_EQ(call("PUT", "big", {}, value).status, 200);
  const http::Response part = call("GET", "big", "Range: bytes=100000-199999\r\n");
  EXPECT_EQ(part.status, 206);
  EXPECT_EQ(part.body.size(), 100000u);
  ASSERT_TRUE(part.body_owner);
  const std::string_view stored = part.body_owner.view();
  EXPECT_EQ(part.body.data(), stored.data() + 100000) << "sent from the stored value, not a copy";
  EXPECT_EQ(part.content_range, "bytes 100000-199999/262144");
}

TEST_F(BucketRequestsTest, ConditionalWritesAreRefusedWith412AndChangeNothing) {
  const std::string etag(call("PUT", "c", {}, "one").etag);
  EXPECT_EQ(call("PUT", "c", "If-Match: \"0000000000000000\"\r\n", "two").status, 412);
  EXPECT_EQ(call("PUT", "c", "If-None-Match: *\r\n", "two").status, 412);
  EXPECT_EQ(call("DELETE", "c", "If-Match: \"0000000000000000\"\r\n").status, 412);
  call("GET", "c");
  EXPECT_EQ(last_, "one");
  EXPECT_EQ(call("PUT", "c", "If-Match: " + etag + "\r\n", "two").status, 200);
  EXPECT_EQ(call("PUT", "c", "If-Match: \"bad\r\n", "three").status, 400) << "a malformed list";
  EXPECT_EQ(call("DELETE", "absent", "If-Match: *\r\n").status, 400) << "an unknown id stays 400";
  EXPECT_EQ(call("PUT", "absent", "If-Match: *\r\n", "x").status, 412);
}

TEST_F(BucketRequestsTest, ABadContentTypeIsRefusedBeforeTheBody) {
  Parsed parsed = parse("PUT", "t", "Content-Type: nonsense\r\nContent-Length: 5\r\n");
  http::Response refusal;
  EXPECT_FALSE(requests_.admit(parsed.head, refusal));
  EXPECT_EQ(refusal.status, 400);
  Parsed twice = parse("PUT", "t", "Content-Type: text/plain\r\nContent-Type: text/html\r\n");
  EXPECT_FALSE(requests_.admit(twice.head, refusal)) << "two Content-Types are ambiguous";
  Parsed good = parse("PUT", "t", "Content-Type: image/png\r\n");
  EXPECT_TRUE(requests_.admit(good.head, refusal));
}

TEST(BucketRequestsAccess, TokensAreCheckedBeforeTheBodyAndBeforeTheStore) {
  char path[] = "/tmp/bucket_requests_token_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << "the-write-token\n";
  auto tokens = app::AccessTokens::load(std::nullopt, std::string(path));
  unlink(path);
  ASSERT_TRUE(tokens) << tokens.status().message();
  base::HashKey key{};
  store::BucketStore store(1 << 20, key);
  app::RefusalMetrics refusals;
  app::BucketRequests requests(store, tokens->get(), refusals);

  Parsed anonymous = parse("PUT", "x", "Content-Length: 3\r\n");
  http::Response refusal;
  EXPECT_FALSE(requests.admit(anonymous.head, refusal));
  EXPECT_EQ(refusal.status, 401);
  EXPECT_EQ(refusal.www_authenticate, R"(Bearer realm="storage_api")");

  Parsed wrong = parse("DELETE", "x", "Authorization: Bearer other\r\n");
  base::ByteBuilder none;
  http::Response answer;
  requests.handle(wrong.head, "x", none, answer, never_defers);
  EXPECT_EQ(answer.status, 401);
  EXPECT_EQ(answer.www_authenticate, R"(Bearer realm="storage_api", error="invalid_token")");

  Parsed right = parse("PUT", "x", "Authorization: Bearer the-write-token\r\n");
  http::Response stored;
  EXPECT_TRUE(requests.admit(right.head, stored));
  requests.handle(right.head, "x", none, stored, never_defers);
  EXPECT_EQ(stored.status, 200);
  EXPECT_EQ(store.bucket_count(), 1u);
  Parsed read = parse("GET", "x");
  http::Response got;
  requests.handle(read.head, "x", none, got, never_defers);
  EXPECT_EQ(got.status, 200) << "no read token file: reads are open";
}

}  // namespace
