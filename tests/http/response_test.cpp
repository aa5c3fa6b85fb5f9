#include "http/response.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>
#include <utility>

namespace {

int count_of(const std::string& text, std::string_view needle) {
  int n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// Everything queued, in order, as the peer would receive it.
std::string drain(http::OutputQueue& out) {
  std::string text;
  while (!out.empty()) {
    iovec iov[8];
    const std::size_t n = out.gather(iov);
    std::size_t bytes = 0;
    for (std::size_t i = 0; i < n; ++i) {
      text.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
      bytes += iov[i].iov_len;
    }
    out.consume(bytes);
  }
  return text;
}

std::string serialize(const http::Response& r, http::SerializeOptions options = {}) {
  http::OutputQueue out;
  EXPECT_TRUE(http::serialize_response(r, options, "Tue, 24 Nov 2026 01:42:33 GMT", out));
  return drain(out);
}

TEST(ResponseTest, SerializesStatusHeadersAndBody) {
  http::Response r;
  r.content_type = "application/octet-stream";
  r.body = "abc";
  EXPECT_EQ(serialize(r),
            "HTTP/1.1 200 OK\r\nDate: Tue, 24 Nov 2026 01:42:33 GMT\r\nContent-Length: 3\r\n"
            "Content-Type: application/octet-stream\r\n\r\nabc");
}

TEST(ResponseTest, ObjectHeadersAreSentWhenSet) {
  http::Response r;
  r.status = 206;
  r.content_type = "text/plain";
  r.body = "bc";
  r.etag = "\"00000000000000ff\"";
  r.last_modified = "Tue, 24 Nov 2026 01:00:00 GMT";
  r.accept_ranges = true;
  r.content_range = "bytes 1-2/3";
  EXPECT_EQ(serialize(r),
            "HTTP/1.1 206 Partial Content\r\nDate: Tue, 24 Nov 2026 01:42:33 GMT\r\nContent-Length: 2\r\n"
            "Content-Type: text/plain\r\nETag: \"00000000000000ff\"\r\n"
            "Last-Modified: Tue, 24 Nov 2026 01:00:00 GMT\r\nAccept-Ranges: bytes\r\n"
            "Content-Range: bytes 1-2/3\r\n\r\nbc");
}

TEST(ResponseTest, NotModifiedCarriesNoLengthAndNoBody) {
  http::Response r;
  r.status = 304;
  r.body = "the value a 200 would send";
  r.etag = "\"1\"";
  const std::string text = serialize(r);
  EXPECT_EQ(text, "HTTP/1.1 304 Not Modified\r\nDate: Tue, 24 Nov 2026 01:42:33 GMT\r\nETag: \"1\"\r\n\r\n");
}

TEST(ResponseTest, UnauthorizedNamesTheScheme) {
  http::Response r = http::Response::error(401);
  r.www_authenticate = "Bearer realm=\"storage_api\"";
  const std::string text = serialize(r);
  EXPECT_EQ(text.rfind("HTTP/1.1 401 Unauthorized\r\n", 0), 0u) << text;
  EXPECT_EQ(count_of(text, "\r\nWWW-Authenticate: Bearer realm=\"storage_api\"\r\n"), 1) << text;
  EXPECT_NE(text.find(R"({"error": "unauthorized"})"), std::string::npos) << text;
}

TEST(ResponseTest, NewStatusesHaveReasonsAndErrorBodies) {
  EXPECT_EQ(http::reason_phrase(412), "Precondition Failed");
  EXPECT_EQ(http::reason_phrase(416), "Range Not Satisfiable");
  EXPECT_EQ(http::error_body(412), R"({"error": "precondition failed"})");
  EXPECT_EQ(http::error_body(416), R"({"error": "range not satisfiable"})");
}

TEST(ResponseTest, LargeSharedBodiesAreQueuedAsSlicesSmallOnesCopied) {
  const base::SharedBytes big = base::SharedBytes::copy_of(std::string(http::kShareBodiesFrom, 'x'));
  const base::SharedBytes small = base::SharedBytes::copy_of("tiny");
  http::OutputQueue out;
  http::Response r;
  r.body_owner = big;
  r.body = big.view().substr(1);  // a slice, as a range response would send
  ASSERT_TRUE(http::serialize_response(r, {}, "D", out));
  EXPECT_EQ(out.shared_slices(), 0u) << "one byte under the threshold: copied";
  r.body = big.view();
  ASSERT_TRUE(http::serialize_response(r, {}, "D", out));
  EXPECT_EQ(out.shared_slices(), 1u);
  r.body_owner = small;
  r.body = small.view();
  ASSERT_TRUE(http::serialize_response(r, {}, "D", out));
  EXPECT_EQ(out.shared_slices(), 1u);
  EXPECT_LT(out.owned_bytes(), 2 * http::kShareBodiesFrom) << "the shared body is not copied";
  EXPECT_EQ(big.use_count(), 2u);
  const std::string text = drain(out);
  EXPECT_EQ(count_of(text, "HTTP/1.1 200 OK"), 3);
  EXPECT_TRUE(text.ends_with("\r\n\r\ntiny"));
  EXPECT_NE(text.find(std::string(http::kShareBodiesFrom, 'x') + "HTTP/1.1 200 OK"), std::string::npos)
      << "each body directly follows its head";
  EXPECT_EQ(big.use_count(), 1u);
}

TEST(ResponseTest, RetryAfterIsSentWhenSet) {
  http::Response r = http::Response::error(503);
  r.retry_after_seconds = 2;
  EXPECT_NE(serialize(r).find("\r\nRetry-After: 2\r\n"), std::string::npos);
}

TEST(ResponseTest, AResponseTheBudgetCannotHoldIsNotQueuedAtAll) {
  base::MemoryAccount account(100);
  http::OutputQueue out(&account);
  http::Response r;
  r.body = "abc";
  EXPECT_FALSE(http::serialize_response(r, {}, "D", out));
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(account.used(), 0u);
}

TEST(ResponseTest, ErrorHasTheOldServiceJsonShape) {
  const http::Response r = http::Response::error(404);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"error": "not found"})");
  EXPECT_EQ(http::Response::error(400).body, R"({"error": "bad request"})");
}

TEST(ResponseTest, EveryStatusLineCarriesItsReason) {
  const std::pair<int, std::string_view> reasons[] = {
      {100, "Continue"},
      {200, "OK"},
      {206, "Partial Content"},
      {304, "Not Modified"},
      {400, "Bad Request"},
      {401, "Unauthorized"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {408, "Request Timeout"},
      {411, "Length Required"},
      {412, "Precondition Failed"},
      {413, "Content Too Large"},
      {414, "URI Too Long"},
      {416, "Range Not Satisfiable"},
      {417, "Expectation Failed"},
      {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"},
      {501, "Not Implemented"},
      {503, "Service Unavailable"},
      {505, "HTTP Version Not Supported"},
      {507, "Insufficient Storage"},
  };
  for (const auto& [status, reason] : reasons) EXPECT_EQ(http::reason_phrase(status), reason) << status;
  for (int status = 0; status < 1000; ++status) {
    http::Response r;
    r.status = status;
    const std::string line = "HTTP/1.1 " + std::to_string(status) + " " + std::string(http::reason_phrase(status)) + "\r\n";
    EXPECT_EQ(serialize(r).rfind(line + "Date: ", 0), 0u) << status;
  }
  EXPECT_EQ(http::reason_phrase(299), "Unknown");
  http::Response odd;
  odd.status = 1234;
  EXPECT_EQ(serialize(odd).rfind("HTTP/1.1 1234 Unknown\r\nDate: ", 0), 0u);
}

// Pieces of every length the head writer copies differently (nothing, bytes, overlapping words, memcpy).
TEST(ResponseTest, PiecesOfEveryLengthAreCopiedWhole) {
  for (std::size_t n = 1; n <= 70; ++n) {
    std::string piece;
    for (std::size_t i = 0; i < n; ++i) piece += static_cast<char>('a' + i % 26);
    http::Response r;
    r.content_type = piece;
    r.etag = piece;
    r.body = piece;
    const std::string text = serialize(r);
    EXPECT_EQ(text, "HTTP/1.1 200 OK\r\nDate: Tue, 24 Nov 2026 01:42:33 GMT\r\nContent-Length: " + std::to_string(n) +
                        "\r\nContent-Type: " + piece + "\r\nETag: " + piece + "\r\n\r\n" + piece)
        << n;
  }
}

TEST(ResponseTest, EveryRefusalStatusHasAReasonAndABody) {
  for (int status : {400, 404, 405, 408, 411, 413, 414, 417, 431, 501, 503, 505, 507}) {
    EXPECT_NE(http::reason_phrase(status), "Unknown") << status;
    EXPECT_NE(http::error_body(status), http::error_body(500)) << status;
  }
}

TEST(ResponseTest, HeadKeepsLengthAndDropsBody) {
  http::Response r;
  r.body = "hello";
  http::SerializeOptions options;
  options.head_request = true;
  const std::string out = serialize(r, options);
  EXPECT_NE(out.find("Content-Length: 5\r\n"), std::string::npos);
  EXPECT_TRUE(out.ends_with("\r\n\r\n"));
}

TEST(ResponseTest, ConnectionHeaders) {
  http::Response r = http::Response::error(405);
  r.allow = "GET, HEAD";
  http::SerializeOptions close;
  close.close = true;
  const std::string closed = serialize(r, close);
  EXPECT_NE(closed.find("Allow: GET, HEAD\r\n"), std::string::npos);
  EXPECT_NE(closed.find("Connection: close\r\n"), std::string::npos);
  http::SerializeOptions keep;
  keep.keep_alive_header = true;
  EXPECT_NE(serialize(r, keep).find("Connection: keep-alive\r\n"), std::string::npos);
}

TEST(DateCacheTest, FormatsImfFixdate) {
  http::DateCache cache;
  EXPECT_EQ(cache.get(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(cache.get(1795484553), "Tue, 24 Nov 2026 01:42:33 GMT");
  EXPECT_EQ(cache.get(1795484553 + 86400 * 7 + 3661), "Tue, 01 Dec 2026 02:43:34 GMT");
  EXPECT_EQ(cache.get(1709251199), "Thu, 29 Feb 2024 23:59:59 GMT");
  EXPECT_EQ(cache.get(4107542400), "Mon, 01 Mar 2100 00:00:00 GMT");  // 2100 is not a leap year
}

// The calendar arithmetic agrees with the C library's gmtime over two centuries, sampled at a stride that
// lands on every weekday, month, hour and second.
TEST(DateCacheTest, AgreesWithGmtime) {
  http::DateCache cache;
  constexpr std::int64_t kStride = 86400 * 3 + 3600 * 5 + 60 * 7 + 11;
  for (std::int64_t t = 0; t < std::int64_t{7258118400}; t += kStride) {  // 1970 to 2200
    const auto now = static_cast<std::time_t>(t);
    std::tm parts{};
    ASSERT_NE(::gmtime_r(&now, &parts), nullptr);
    char expected[40];
    ASSERT_GT(std::strftime(expected, sizeof expected, "%a, %d %b %Y %H:%M:%S GMT", &parts), 0u);
    ASSERT_EQ(cache.get(now), expected) << t;
  }
}

}  // namespace
