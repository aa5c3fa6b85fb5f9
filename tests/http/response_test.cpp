#include "http/response.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <ctime>
#include <string>

namespace {

std::string serialize(const http::Response& r, http::SerializeOptions options = {}) {
  base::Buffer out;
  http::serialize_response(r, options, "Tue, 24 Nov 2026 01:42:33 GMT", out);
  return std::string(out.readable());
}

TEST(ResponseTest, SerializesStatusHeadersAndBody) {
  http::Response r;
  r.content_type = "application/octet-stream";
  r.body = "abc";
  EXPECT_EQ(serialize(r),
            "HTTP/1.1 200 OK\r\nDate: Tue, 24 Nov 2026 01:42:33 GMT\r\nContent-Length: 3\r\n"
            "Content-Type: application/octet-stream\r\n\r\nabc");
}

TEST(ResponseTest, ErrorHasTheOldServiceJsonShape) {
  const http::Response r = http::Response::error(404);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"error": "not found"})");
  EXPECT_EQ(http::Response::error(400).body, R"({"error": "bad request"})");
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
