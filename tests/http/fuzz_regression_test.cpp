// Inputs found by the fuzzers (fuzz/), and the request-smuggling seeds of their corpus, kept as plain tests:
// each refused framing gets its exact status, Connection: close, and nothing sent after it is answered,
// however the bytes are split.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/shared_bytes.h"
#include "http/connection.h"
#include "http/connection_driver.h"
#include "http/request_parser.h"
#include "http/response.h"
#include "http/router.h"

namespace {

// A bucket store on a std::map, like fuzz/fuzz_connection.cpp's: PUT stores, GET returns.
class MapStoreHandler final : public http::Handler {
 public:
  std::uint32_t on_request_begin(const http::RequestHead&) override {
    ++begun;
    return 0;
  }
  bool admit_body(const http::RequestHead&, std::uint64_t, http::Response&) override { return true; }
  void handle(const http::RequestHead& head, base::ByteBuilder& body, http::Response& response,
              http::Deferrer&) override {
    const http::RouteMatch match = http::match_route(head.path, id_buffer_);
    if (match.route != http::Route::kBucket || match.bad_id) {
      response = http::Response::error(404);
      return;
    }
    const std::string id(match.id);
    handled.push_back(std::string(http::method_name(head.method)) + " " + id);
    if (head.method == http::Method::kPut) {
      store[id] = std::move(body).freeze();
      return;  // 200 with the default, empty body
    }
    const auto found = store.find(id);
    if (found == store.end()) {
      response = http::Response::error(404);
      return;
    }
    response.body = found->second.view();
    response.body_owner = found->second;
  }
  void on_request_end() override { ++ended; }
  void on_response(const http::ResponseRecord& record) override { statuses.push_back(record.status); }

  std::map<std::string, base::SharedBytes> store;
  std::vector<std::string> handled;
  std::vector<int> statuses;
  int begun = 0;
  int ended = 0;

 private:
  std::string id_buffer_;
};

struct Exchange {
  std::string output;
  std::vector<int> statuses;
  std::vector<std::string> handled;
  std::map<std::string, base::SharedBytes> store;
  bool closed = false;
  bool balanced = false;
};

// Sends `stream` in reads of `read_size` bytes (0: all at once) and collects everything written back.
Exchange send_stream(std::string_view stream, std::size_t read_size) {
  MapStoreHandler handler;
  Exchange result;
  {
    const http::ConnectionConfig config;
    http_test::Driver d(config, handler);
    const std::size_t step = read_size == 0 ? stream.size() : read_size;
    for (std::size_t sent = 0; sent < stream.size() && d.last.action == http::SocketAction::kKeep; sent += step) {
      d.deliver(stream.substr(sent, step));
      result.output += d.write();
    }
    result.closed = d.last.action != http::SocketAction::kKeep;
  }
  result.statuses = handler.statuses;
  result.handled = handler.handled;
  result.store = handler.store;
  result.balanced = handler.begun == handler.ended;
  return result;
}

int count(std::string_view text, std::string_view needle) {
  int n = 0;
  for (std::size_t at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// Found by fuzz_request_parser and fuzz_connection: an absolute-form target was judged on its first bytes,
// so "GET h" (or "GET http:/") arriving before the rest was refused with 400 "not origin-form", although the
// whole line is valid. Every prefix of a valid head must wait for more bytes.
TEST(FuzzRegression, AbsoluteFormTargetSplitByTheNetworkIsNotRefused) {
  constexpr std::string_view kHead = "GET http://x/api/buckets/a?q HTTP/1.1\r\nHost: x\r\n\r\n";
  for (std::size_t cut = 0; cut < kHead.size(); ++cut) {
    http::RequestHead head;
    const http::ParseResult result = http::parse_request_head(kHead.substr(0, cut), http::ParserLimits{}, head);
    EXPECT_EQ(result.status, http::ParseStatus::kIncomplete)
        << "prefix of " << cut << " bytes: " << result.error_status << " " << result.error_detail;
  }
  http::RequestHead head;
  const http::ParseResult whole = http::parse_request_head(kHead, http::ParserLimits{}, head);
  ASSERT_EQ(whole.status, http::ParseStatus::kComplete);
  EXPECT_EQ(head.path, "/api/buckets/a");
  EXPECT_EQ(head.query, "q");
}

TEST(FuzzRegression, AbsoluteFormRequestArrivingInPiecesIsAnswered) {
  const std::string stream = "PUT http://x/api/buckets/a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"
                             "GET http://x/api/buckets/a HTTP/1.1\r\nHost: x\r\n\r\n";
  for (const std::size_t read_size : {0u, 1u, 5u}) {
    const Exchange result = send_stream(stream, read_size);
    EXPECT_EQ(result.statuses, (std::vector<int>{200, 200})) << "reads of " << read_size;
    EXPECT_FALSE(result.closed) << "reads of " << read_size;
    EXPECT_TRUE(result.output.ends_with("\r\n\r\nhi")) << "reads of " << read_size;
  }
}

// Found by fuzz_connection under UBSan: a handler that leaves Response::body default (a successful PUT or
// DELETE) made the serialiser call memcpy with a null source. The response must simply be empty.
TEST(FuzzRegression, DefaultEmptyBodyIsSerialisedAsContentLengthZero) {
  http::Response response;
  ASSERT_EQ(response.body.data(), nullptr);
  http::OutputQueue out;
  ASSERT_TRUE(http::serialize_response(response, http::SerializeOptions{}, "Tue, 24 Nov 2026 00:00:00 GMT", out));
  iovec iov[2];
  ASSERT_EQ(out.gather(iov), 1u);
  const std::string_view text(static_cast<const char*>(iov[0].iov_base), iov[0].iov_len);
  EXPECT_EQ(text.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << text;
  EXPECT_NE(text.find("\r\nContent-Length: 0\r\n"), std::string_view::npos) << text;
  EXPECT_TRUE(text.ends_with("\r\n\r\n")) << text;
}

struct SmugglingVector {
  std::string_view name;
  std::string request;  // sent first; its framing must be refused
  int status;
};

// Sent after each refused request: if anything answers it, the refused bytes were taken as framing.
constexpr std::string_view kFollower = "GET /api/buckets/smuggled HTTP/1.1\r\nHost: x\r\n\r\n";

std::vector<SmugglingVector> smuggling_vectors() {
  using namespace std::string_literals;
  const std::string put = "PUT /api/buckets/a HTTP/1.1\r\nHost: x\r\n";
  return {
      {"CL.TE", put + "Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG", 400},
      {"TE.CL", put + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n8\r\nSMUGGLED\r\n0\r\n\r\n", 400},
      {"TE.TE unknown coding", put + "Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400},
      {"TE.TE coding list", put + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
      {"TE.TE two fields", put + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n", 400},
      {"TE.TE chunked then gzip", put + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400},
      {"TE.TE chunked twice", put + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"TE.TE space before colon", put + "Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400},
      {"TE.TE vertical tab", put + "Transfer-Encoding:\x0b" "chunked\r\n\r\n0\r\n\r\n", 400},
      {"TE in HTTP/1.0", "PUT /api/buckets/a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"duplicate CL", put + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400},
      {"CL list that differs", put + "Content-Length: 5, 6\r\n\r\nhello!", 400},
      {"CL with sign", put + "Content-Length: +5\r\n\r\nhello", 400},
      {"CL in hex", put + "Content-Length: 0x5\r\n\r\nhello", 400},
      {"CL over 64 bits", put + "Content-Length: 18446744073709551621\r\n\r\nhello", 400},
      {"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n Transfer-Encoding: chunked\r\n\r\n", 400},
      {"space before first field", "GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400},
      {"bare LF line ends", "GET /a HTTP/1.1\nHost: x\n\n", 400},
      {"bare LF inside the head", "GET /a HTTP/1.1\r\nHost: x\nContent-Length: 5\r\n\r\nhello", 400},
      {"bare CR", "GET /a HTTP/1.1\rHost: x\r\n\r\n", 400},
      {"NUL in field value", "GET /a HTTP/1.1\r\nHost: x\0y\r\n\r\n"s, 400},
      {"NUL in target", "GET /a\0b HTTP/1.1\r\nHost: x\r\n\r\n"s, 400},
      {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400},
      {"HTTP/1.2", "GET /a HTTP/1.2\r\nHost: x\r\n\r\n", 505},
      {"two Host fields", "GET /a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"Host with userinfo", "GET /a HTTP/1.1\r\nHost: evil@x\r\n\r\n", 400},
      {"Host as a list", "GET /a HTTP/1.1\r\nHost: x, y\r\n\r\n", 400},
      {"fragment in target", "GET /api/buckets/a#b HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"TLS ClientHello", "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03"s, 400},
      {"HTTP/0.9 request", "GET /api/buckets/a\r\n\r\n", 400},
      {"overlong method", std::string(100, 'G') + " / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
      {"overlong request line", "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", 414},
      {"too many fields", [] {
         std::string head = "GET / HTTP/1.1\r\nHost: x\r\n";
         for (int i = 0; i < 70; ++i) head += "A" + std::to_string(i) + ": b\r\n";
         return head + "\r\n";
       }(), 431},
      {"unsupported expectation", put + "Expect: 200-ok\r\nContent-Length: 1\r\n\r\nx", 417},
      {"unknown method with body", "BREW /pot HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", 501},
      {"chunk size in hex notation", put + "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk size over 64 bits", put + "Transfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\nx\r\n0\r\n\r\n", 400},
      {"chunk with bare LF", put + "Transfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n", 400},
      {"chunk data without CRLF", put + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello0\r\n\r\n", 400},
      {"trailer obs-fold", put + "Transfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n folded\r\n\r\n", 400},
      {"chunk extension without name", put + "Transfer-Encoding: chunked\r\n\r\n5;=x\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk extension unterminated quote",
       put + "Transfer-Encoding: chunked\r\n\r\n5;a=\"x\r\nhello\r\n0\r\n\r\n", 400},
  };
}

TEST(FuzzRegression, RefusedFramingIsAnsweredOnceAndClosesHoweverItIsSplit) {
  for (const SmugglingVector& vector : smuggling_vectors()) {
    const std::string stream = vector.request + std::string(kFollower);
    for (const std::size_t read_size : {0u, 1u, 7u}) {
      SCOPED_TRACE(std::string(vector.name) + ", reads of " + std::to_string(read_size));
      const Exchange result = send_stream(stream, read_size);
      EXPECT_EQ(result.statuses, std::vector<int>{vector.status});
      EXPECT_EQ(result.output.rfind("HTTP/1.1 " + std::to_string(vector.status) + " ", 0), 0u) << result.output;
      EXPECT_EQ(count(result.output, "HTTP/1.1 "), 1) << result.output;
      EXPECT_NE(result.output.find("\r\nConnection: close\r\n"), std::string::npos);
      EXPECT_TRUE(result.closed);
      EXPECT_TRUE(result.handled.empty());
      EXPECT_TRUE(result.store.empty());
      EXPECT_TRUE(result.balanced);
    }
  }
}

// The seeds that look like smuggling but are valid: they must be served, and keep the connection.
TEST(FuzzRegression, IdenticalContentLengthListIsAccepted) {
  const Exchange result = send_stream(
      "PUT /api/buckets/a HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\nContent-Length: 5\r\n\r\nhello" +
          std::string(kFollower),
      0);
  EXPECT_EQ(result.statuses, (std::vector<int>{200, 404}));
  EXPECT_EQ(result.handled, (std::vector<std::string>{"PUT a", "GET smuggled"}));
  EXPECT_FALSE(result.closed);
}

// fuzz_connection's wrapped mode as fixed cases: a complete request inside a body is data.
TEST(FuzzRegression, RequestInsideABodyNeverReachesTheStore) {
  const std::string inner = "PUT /api/buckets/inner HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nevil";
  const std::string get_outer = "GET /api/buckets/outer HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string hex_size;
  for (std::size_t v = inner.size(); v > 0; v /= 16) hex_size.insert(hex_size.begin(), "0123456789abcdef"[v % 16]);
  const std::vector<std::string> streams = {
      "PUT /api/buckets/outer HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(inner.size()) +
          "\r\n\r\n" + inner + get_outer,
      "PUT /api/buckets/outer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + hex_size + ";e=1\r\n" +
          inner + "\r\n0\r\nX-T: 1\r\n\r\n" + get_outer,
      "PUT /api/buckets/outer HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: " +
          std::to_string(inner.size()) + "\r\n\r\n" + inner + get_outer,
  };
  for (const std::string& stream : streams) {
    for (const std::size_t read_size : {0u, 1u, 13u}) {
      SCOPED_TRACE(stream.substr(0, 60) + ", reads of " + std::to_string(read_size));
      const Exchange result = send_stream(stream, read_size);
      EXPECT_EQ(result.handled, (std::vector<std::string>{"PUT outer", "GET outer"}));
      ASSERT_EQ(result.store.size(), 1u);
      ASSERT_EQ(result.store.count("outer"), 1u);
      EXPECT_EQ(result.store.at("outer").view(), inner);
      EXPECT_EQ(result.statuses, (std::vector<int>{200, 200}));
      EXPECT_TRUE(result.output.ends_with("\r\n\r\n" + inner));
      EXPECT_FALSE(result.closed);
    }
  }
}

}  // namespace
