#include "http/request_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace http {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;

ParseResult parse(std::string_view buffer, RequestHead& head, const ParserLimits& limits = {}) {
  return parse_request_head(buffer, limits, head);
}

// A complete HTTP/1.1 head with a Host field followed by `fields` (each ending in CRLF).
std::string head_with(std::string_view fields, std::string_view request_line = "GET / HTTP/1.1") {
  return std::string(request_line) + "\r\nHost: example\r\n" + std::string(fields) + "\r\n";
}

bool points_into(std::string_view part, std::string_view buffer) {
  return part.data() >= buffer.data() && part.data() + part.size() <= buffer.data() + buffer.size();
}

TEST(RequestParser, ParsesTypicalGet) {
  const std::string buffer =
      "GET /api/buckets/photo.jpg?version=2&x=y HTTP/1.1\r\n"
      "Host: localhost:5000\r\n"
      "User-Agent: curl/8.0\r\n"
      "Accept: */*\r\n"
      "\r\n";
  RequestHead head;
  const ParseResult result = parse(buffer, head);
  ASSERT_EQ(result.status, ParseStatus::kComplete);
  EXPECT_EQ(result.consumed, buffer.size());
  EXPECT_EQ(head.method, Method::kGet);
  EXPECT_EQ(head.method_token, "GET");
  EXPECT_EQ(head.target, "/api/buckets/photo.jpg?version=2&x=y");
  EXPECT_EQ(head.path, "/api/buckets/photo.jpg");
  EXPECT_EQ(head.query, "version=2&x=y");
  EXPECT_EQ(head.version_minor, 1);
  EXPECT_TRUE(head.keep_alive);
  EXPECT_TRUE(head.has_host);
  EXPECT_FALSE(head.has_body());
  ASSERT_EQ(head.header_count, 3u);
  EXPECT_EQ(head.headers[0].name, "Host");
  EXPECT_EQ(head.headers[0].value, "localhost:5000");
  EXPECT_EQ(head.headers[2].name, "Accept");
  EXPECT_EQ(head.headers[2].value, "*/*");
  EXPECT_EQ(head.header("user-agent"), "curl/8.0");
  EXPECT_EQ(head.header("HOST"), "localhost:5000");
  EXPECT_TRUE(head.header("Content-Type").empty());
}

TEST(RequestParser, EveryViewPointsIntoTheBuffer) {
  const std::string buffer = "PUT /a/b?q=1 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nX-Empty:\r\n\r\n";
  RequestHead head;
  ASSERT_EQ(parse(buffer, head).status, ParseStatus::kComplete);
  for (const std::string_view part : {head.method_token, head.target, head.path, head.query}) {
    EXPECT_TRUE(points_into(part, buffer)) << part;
  }
  ASSERT_EQ(head.header_count, 3u);
  for (std::size_t i = 0; i < head.header_count; ++i) {
    EXPECT_TRUE(points_into(head.headers[i].name, buffer)) << head.headers[i].name;
    EXPECT_TRUE(points_into(head.headers[i].value, buffer)) << head.headers[i].name;
  }
  EXPECT_EQ(head.target.data(), buffer.data() + 4);
  EXPECT_EQ(head.query, "q=1");
  EXPECT_EQ(head.header("x-empty"), "");
}

TEST(RequestParser, MethodsMapToTheirEnum) {
  const struct {
    std::string_view token;
    Method method;
  } cases[] = {
      {"GET", Method::kGet},         {"HEAD", Method::kHead},       {"PUT", Method::kPut},
      {"DELETE", Method::kDelete},   {"POST", Method::kPost},       {"OPTIONS", Method::kOptions},
      {"PATCH", Method::kPatch},     {"CONNECT", Method::kConnect}, {"TRACE", Method::kTrace},
      {"PURGE", Method::kUnknown},   {"get", Method::kUnknown},     {"X-Custom!#$%&'*+-.^_`|~", Method::kUnknown},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.token);
    const std::string buffer = head_with("", std::string(c.token) + " / HTTP/1.1");
    RequestHead head;
    ASSERT_EQ(parse(buffer, head).status, ParseStatus::kComplete);
    EXPECT_EQ(head.method, c.method);
    EXPECT_EQ(head.method_token, c.token);
  }
}

// Complete heads that must be accepted, with the facts the parser derives from them.
struct GoodCase {
  const char* name;
  std::string buffer;
  int version_minor = 1;
  bool keep_alive = true;
  bool has_content_length = false;
  std::uint64_t content_length = 0;
  bool chunked = false;
  bool expect_continue = false;
};

TEST(RequestParser, AcceptsValidHeads) {
  const GoodCase cases[] = {
      {"minimal 1.1", head_with(""), 1, true},
      {"1.0 without Host closes by default", "GET / HTTP/1.0\r\n\r\n", 0, false},
      {"1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0, true},
      {"1.0 keep-alive among tokens", "GET / HTTP/1.0\r\nConnection: Upgrade , Keep-Alive\r\n\r\n", 0, true},
      {"1.0 keep-alive then close", "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", 0, false},
      {"1.1 close", head_with("Connection: close\r\n"), 1, false},
      {"1.1 close any case", head_with("Connection: CLOSE\r\n"), 1, false},
      {"1.1 close in list", head_with("Connection: upgrade,close\r\n"), 1, false},
      {"1.1 close on second line", head_with("Connection: upgrade\r\nConnection: close\r\n"), 1, false},
      {"1.1 keep-alive", head_with("Connection: keep-alive\r\n"), 1, true},
      {"1.1 token that only resembles close", head_with("Connection: closed\r\n"), 1, true},
      {"content length", head_with("Content-Length: 42\r\n", "PUT /x HTTP/1.1"), 1, true, true, 42},
      {"content length zero", head_with("Content-Length: 0\r\n", "PUT /x HTTP/1.1"), 1, true, true, 0},
      {"content length max", head_with("Content-Length: 18446744073709551615\r\n"), 1, true, true,
       18446744073709551615ull},
      {"content length leading zeros", head_with("Content-Length: 007\r\n"), 1, true, true, 7},
      {"content length identical list", head_with("Content-Length: 5, 5,5\r\n"), 1, true, true, 5},
      {"content length identical lines", head_with("Content-Length: 5\r\ncontent-length: 5\r\n"), 1, true,
       true, 5},
      {"content length with OWS", head_with("Content-Length: \t 9 \t\r\n"), 1, true, true, 9},
      {"chunked", head_with("Transfer-Encoding: chunked\r\n", "PUT /x HTTP/1.1"), 1, true, false, 0, true},
      {"chunked any case", head_with("transfer-encoding: ChUnKeD\r\n"), 1, true, false, 0, true},
      {"chunked with OWS around", head_with("Transfer-Encoding: \t chunked \t\r\n"), 1, true, false, 0, true},
      {"expect 100-continue", head_with("Expect: 100-continue\r\n"), 1, true, false, 0, false, true},
      {"expect any case", head_with("expect: 100-Continue\r\n"), 1, true, false, 0, false, true},
      {"expect ignored in 1.0", "PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", 0, false},
      {"leading empty lines", "\r\n\r\n" + head_with(""), 1, true},
      {"asterisk for OPTIONS", head_with("", "OPTIONS * HTTP/1.1"), 1, true},
      {"empty field value", head_with("X-Empty:\r\nX-Blank:   \r\n"), 1, true},
      {"obs-text in value", head_with("X-Latin: caf\xc3\xa9\r\n"), 1, true},
      {"htab inside value", head_with("X-Tab: a\tb\r\n"), 1, true},
      {"unknown method", head_with("", "BREW /pot HTTP/1.1"), 1, true},
      {"method of 64 bytes", head_with("", std::string(64, 'M') + " / HTTP/1.1"), 1, true},
      {"chunked with empty list elements", head_with("Transfer-Encoding: , chunked,\r\n"), 1, true, false, 0, true},
      {"chunked after empty TE line", head_with("Transfer-Encoding:\r\nTransfer-Encoding: chunked\r\n"), 1, true,
       false, 0, true},
      {"empty Host value", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 1, true},
  };
  for (const GoodCase& c : cases) {
    SCOPED_TRACE(c.name);
    RequestHead head;
    const ParseResult result = parse(c.buffer, head);
    ASSERT_EQ(result.status, ParseStatus::kComplete) << result.error_status << " " << result.error_detail;
    EXPECT_EQ(result.consumed, c.buffer.size());
    EXPECT_EQ(head.version_minor, c.version_minor);
    EXPECT_EQ(head.keep_alive, c.keep_alive);
    EXPECT_EQ(head.has_content_length, c.has_content_length);
    EXPECT_EQ(head.content_length, c.content_length);
    EXPECT_EQ(head.chunked, c.chunked);
    EXPECT_EQ(head.expect_continue, c.expect_continue);
    EXPECT_EQ(head.has_body(), c.chunked || c.content_length > 0);
  }
}

TEST(RequestParser, AbsoluteFormIsRoutedByItsPath) {
  struct Case {
    const char* target;
    const char* path;
    const char* query;
  };
  const Case cases[] = {
      {"http://example.com/api/buckets/a", "/api/buckets/a", ""},
      {"HTTPS://example.com:8443/metrics?x=1", "/metrics", "x=1"},
      {"http://example.com", "/", ""},
      {"http://example.com?q", "/", "q"},
  };
  for (const Case& c : cases) {
    const std::string head = std::string("GET ") + c.target + " HTTP/1.1\r\nHost: example.com\r\n\r\n";
    http::RequestHead out;
    const auto result = http::parse_request_head(head, http::ParserLimits{}, out);
    ASSERT_EQ(result.status, http::ParseStatus::kComplete) << c.target;
    EXPECT_EQ(out.target, c.target);
    EXPECT_EQ(out.path, c.path) << c.target;
    EXPECT_EQ(out.query, c.query) << c.target;
  }
}

TEST(RequestParser, StripsOwsAroundValuesButKeepsInnerSpace) {
  const std::string buffer = head_with("X-A: \t one two \t \r\nX-B:three\r\n");
  RequestHead head;
  ASSERT_EQ(parse(buffer, head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.header("x-a"), "one two");
  EXPECT_EQ(head.header("x-b"), "three");
}

TEST(RequestParser, HeaderLookupReturnsFirstOfRepeatedFields) {
  const std::string buffer = head_with("X-Dup: first\r\nX-Dup: second\r\n");
  RequestHead head;
  ASSERT_EQ(parse(buffer, head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.header("X-DUP"), "first");
  EXPECT_EQ(head.header_count, 3u);
}

TEST(RequestParser, LeadingEmptyLinesAreConsumed) {
  const std::string request = head_with("");
  const std::string buffer = "\r\n\r\n\r\n" + request;
  RequestHead head;
  const ParseResult result = parse(buffer, head);
  ASSERT_EQ(result.status, ParseStatus::kComplete);
  EXPECT_EQ(result.consumed, buffer.size());
  EXPECT_EQ(head.method_token, "GET");
  EXPECT_EQ(parse("\r\n\r\n", head).status, ParseStatus::kIncomplete);
  EXPECT_EQ(parse("\r", head).status, ParseStatus::kIncomplete);
}

// Complete heads that must be refused, with the exact status.
struct BadCase {
  const char* name;
  std::string buffer;
  int status;
};

std::vector<BadCase> bad_cases() {
  return {
      // Request line.
      {"leading space", " GET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"leading tab", "\tGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"leading bare LF", "\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"leading bare CR", "\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"invalid method char", head_with("", "GE(T / HTTP/1.1"), 400},
      {"method with NUL", head_with("", "GE\0T / HTTP/1.1"s), 400},
      {"tab after method", head_with("", "GET\t/ HTTP/1.1"), 400},
      {"two spaces after method", head_with("", "GET  / HTTP/1.1"), 400},
      {"two spaces before version", head_with("", "GET /  HTTP/1.1"), 400},
      {"trailing space after version", head_with("", "GET / HTTP/1.1 "), 400},
      {"absolute-form without authority", head_with("", "GET http:///a HTTP/1.1"), 400},
      {"absolute-form of another scheme", head_with("", "GET ftp://example/ HTTP/1.1"), 400},
      {"authority-form", head_with("", "CONNECT example:443 HTTP/1.1"), 400},
      {"relative target", head_with("", "GET a/b HTTP/1.1"), 400},
      {"asterisk with GET", head_with("", "GET * HTTP/1.1"), 400},
      {"asterisk with suffix", head_with("", "OPTIONS *x HTTP/1.1"), 400},
      {"target with DEL", head_with("", "GET /a\x7f HTTP/1.1"), 400},
      {"target with obs-text", head_with("", "GET /caf\xc3\xa9 HTTP/1.1"), 400},
      {"target with tab", head_with("", "GET /a\tb HTTP/1.1"), 400},
      {"target with NUL", head_with("", "GET /a\0b HTTP/1.1"s), 400},
      {"fragment", head_with("", "GET /a#frag HTTP/1.1"), 400},
      {"fragment after query", head_with("", "GET /a?q=1#frag HTTP/1.1"), 400},
      {"empty fragment", head_with("", "GET /a# HTTP/1.1"), 400},
      {"fragment in absolute-form", head_with("", "GET http://h/a#f HTTP/1.1"), 400},
      {"TLS ClientHello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400},
      {"method of 65 bytes", head_with("", std::string(65, 'M') + " / HTTP/1.1"), 400},
      {"absolute-form with query but no authority", head_with("", "GET http://?q HTTP/1.1"), 400},
      {"absolute-form that is only a scheme", head_with("", "GET http:// HTTP/1.1"), 400},
      {"scheme prefix only", head_with("", "GET http: HTTP/1.1"), 400},
      {"HTTP/0.9 style line", "GET /\r\n\r\n", 400},
      {"missing version", "GET / \r\nHost: a\r\n\r\n", 400},
      {"lowercase version", head_with("", "GET / http/1.1"), 400},
      {"version without minor", head_with("", "GET / HTTP/1"), 400},
      {"two-digit minor", head_with("", "GET / HTTP/1.10"), 400},
      {"version with letters", head_with("", "GET / HTTP/a.b"), 400},
      {"HTTP/2.0", head_with("", "GET / HTTP/2.0"), 505},
      {"HTTP/1.2", head_with("", "GET / HTTP/1.2"), 505},
      {"HTTP/0.9", head_with("", "GET / HTTP/0.9"), 505},
      {"HTTP/3.1", head_with("", "GET / HTTP/3.1"), 505},
      {"request line ends in bare LF", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400},
      {"request line ends in bare CR", "GET / HTTP/1.1\rHost: a\r\n\r\n", 400},
      {"request line ends in CR CR LF", "GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", 400},
      // Field syntax.
      {"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
      {"tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400},
      {"whitespace before first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400},
      {"obs-fold", head_with("X-A: one\r\n two\r\n"), 400},
      {"obs-fold with tab", head_with("X-A: one\r\n\ttwo\r\n"), 400},
      {"empty field name", head_with(": value\r\n"), 400},
      {"invalid char in field name", head_with("X(A): v\r\n"), 400},
      {"field name with NUL", head_with("X\0A: v\r\n"s), 400},
      {"field without colon", head_with("X-A\r\n"), 400},
      {"field name then space then value", head_with("X-A value\r\n"), 400},
      {"NUL in value", head_with("X-A: a\0b\r\n"s), 400},
      {"DEL in value", head_with("X-A: a\x7f\r\n"), 400},
      {"CTL in value", head_with("X-A: a\x01\r\n"), 400},
      {"vertical tab in value", head_with("X-A: \x0b" "a\r\n"), 400},
      {"bare LF inside value", head_with("X-A: a\nb\r\n"), 400},
      {"bare CR inside value", head_with("X-A: a\rb\r\n"), 400},
      {"field line ends in bare LF", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400},
      {"head ends in bare LF", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400},
      {"head ends in bare CR", "GET / HTTP/1.1\r\nHost: a\r\n\rX", 400},
      {"all LF line endings", "GET / HTTP/1.1\nHost: a\n\n", 400},
      // Host.
      {"1.1 without Host", "GET / HTTP/1.1\r\n\r\n", 400},
      {"1.1 with two Host", head_with("Host: other\r\n"), 400},
      {"1.1 with two Host same value", head_with("host: example\r\n"), 400},
      {"1.0 with two Host", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"1.0 with invalid Host", "GET / HTTP/1.0\r\nHost: a b\r\n\r\n", 400},
      {"invalid Host after a valid one", "GET / HTTP/1.1\r\nHost: a\r\nHost: a@b\r\n\r\n", 400},
      // Content-Length.
      {"CL plus sign", head_with("Content-Length: +5\r\n"), 400},
      {"CL minus sign", head_with("Content-Length: -1\r\n"), 400},
      {"CL hex", head_with("Content-Length: 0x10\r\n"), 400},
      {"CL trailing letters", head_with("Content-Length: 5a\r\n"), 400},
      {"CL decimal point", head_with("Content-Length: 5.0\r\n"), 400},
      {"CL empty", head_with("Content-Length:\r\n"), 400},
      {"CL blank", head_with("Content-Length:   \r\n"), 400},
      {"CL inner space", head_with("Content-Length: 1 2\r\n"), 400},
      {"CL overflow", head_with("Content-Length: 18446744073709551616\r\n"), 400},
      {"CL huge", head_with("Content-Length: 99999999999999999999999\r\n"), 400},
      {"CL differing list", head_with("Content-Length: 5, 6\r\n"), 400},
      {"CL trailing comma", head_with("Content-Length: 5,\r\n"), 400},
      {"CL leading comma", head_with("Content-Length: ,5\r\n"), 400},
      {"CL differing lines", head_with("Content-Length: 5\r\nContent-Length: 6\r\n"), 400},
      {"CL space before colon", head_with("Content-Length : 5\r\n"), 400},
      // Transfer-Encoding.
      {"TE with CL", head_with("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"), 400},
      {"CL with TE", head_with("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n"), 400},
      {"CL with unsupported TE", head_with("Content-Length: 5\r\nTransfer-Encoding: gzip\r\n"), 400},
      {"TE with CL zero", head_with("Transfer-Encoding: chunked\r\nContent-Length: 0\r\n"), 400},
      {"TE in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"TE space before colon", head_with("Transfer-Encoding : chunked\r\n"), 400},
      {"TE obs-fold", head_with("Transfer-Encoding:\r\n chunked\r\n"), 400},
      {"TE obs-fold after value", head_with("Transfer-Encoding: chunked\r\n ,gzip\r\n"), 400},
      {"TE leading space on name", "GET / HTTP/1.1\r\n Transfer-Encoding: chunked\r\nHost: a\r\n\r\n", 400},
      {"TE vertical tab", head_with("Transfer-Encoding: \x0b" "chunked\r\n"), 400},
      {"TE NUL", head_with("Transfer-Encoding: chunked\0\r\n"s), 400},
      {"TE gzip then chunked", head_with("Transfer-Encoding: gzip, chunked\r\n"), 501},
      {"TE gzip line then chunked line", head_with("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"),
       501},
      {"TE coding with parameters then chunked", head_with("Transfer-Encoding: x;a=1 ; b=\"2\", chunked\r\n"), 501},
      // RFC 9112 6.3: without chunked as the final coding the length cannot be known: 400, not 501.
      {"TE chunked then gzip", head_with("Transfer-Encoding: chunked, gzip\r\n"), 400},
      {"TE chunked line then gzip line", head_with("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n"),
       400},
      {"TE identity", head_with("Transfer-Encoding: identity\r\n"), 400},
      {"TE gzip", head_with("Transfer-Encoding: gzip\r\n"), 400},
      {"TE empty", head_with("Transfer-Encoding:\r\n"), 400},
      {"TE only commas", head_with("Transfer-Encoding: , ,\r\n"), 400},
      {"TE with parameter", head_with("Transfer-Encoding: chunked;q=1\r\n"), 400},
      {"TE lookalike", head_with("Transfer-Encoding: chunkedx\r\n"), 400},
      {"TE quoted", head_with("Transfer-Encoding: \"chunked\"\r\n"), 400},
      // RFC 9112 7: chunked must not be applied twice.
      {"TE chunked twice", head_with("Transfer-Encoding: chunked, chunked\r\n"), 400},
      {"TE chunked on two lines", head_with("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), 400},
      {"TE chunked twice around an empty element", head_with("Transfer-Encoding: chunked,,chunked\r\n"), 400},
      // A coding that is not even a token cannot be "unsupported": it is malformed.
      {"TE malformed coding before chunked", head_with("Transfer-Encoding: gz ip, chunked\r\n"), 400},
      {"TE quoted coding before chunked", head_with("Transfer-Encoding: \"gzip\", chunked\r\n"), 400},
      {"TE parameter without value before chunked", head_with("Transfer-Encoding: gzip;level, chunked\r\n"), 400},
      // Expect.
      {"expect other", head_with("Expect: something\r\n"), 417},
      {"expect empty", head_with("Expect:\r\n"), 417},
      {"expect list", head_with("Expect: 100-continue, foo\r\n"), 417},
      {"expect 1.0 other", "PUT / HTTP/1.0\r\nExpect: 102-processing\r\n\r\n", 417},
  };
}

TEST(RequestParser, RefusesInvalidHeadsWithExactStatus) {
  for (const BadCase& c : bad_cases()) {
    SCOPED_TRACE(c.name);
    RequestHead head;
    const ParseResult result = parse(c.buffer, head);
    ASSERT_EQ(result.status, ParseStatus::kError);
    EXPECT_EQ(result.error_status, c.status) << result.error_detail;
    EXPECT_FALSE(result.error_detail.empty());
  }
}

// Every prefix of an invalid head either waits for more or already gives the same answer: the verdict
// cannot depend on how the bytes were split into reads.
TEST(RequestParser, PrefixesOfInvalidHeadsNeverDisagree) {
  for (const BadCase& c : bad_cases()) {
    SCOPED_TRACE(c.name);
    for (std::size_t length = 0; length < c.buffer.size(); ++length) {
      RequestHead head;
      const ParseResult result = parse(std::string_view(c.buffer).substr(0, length), head);
      ASSERT_NE(result.status, ParseStatus::kComplete) << "prefix " << length;
      if (result.status == ParseStatus::kError) {
        EXPECT_EQ(result.error_status, c.status) << "prefix " << length;
      }
    }
  }
}

TEST(RequestParser, EveryPrefixOfAValidHeadIsIncomplete) {
  const std::string requests[] = {
      head_with("User-Agent: t\r\nAccept: */*\r\n", "GET /path?q=1 HTTP/1.1"),
      "\r\n" + head_with("Content-Length: 10\r\nExpect: 100-continue\r\n", "PUT /api/buckets/x HTTP/1.1"),
      "DELETE /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
      head_with("Transfer-Encoding: chunked\r\n", "POST / HTTP/1.1"),
  };
  for (const std::string& request : requests) {
    SCOPED_TRACE(request);
    for (std::size_t length = 0; length < request.size(); ++length) {
      RequestHead head;
      const ParseResult result = parse(std::string_view(request).substr(0, length), head);
      EXPECT_EQ(result.status, ParseStatus::kIncomplete) << "prefix " << length << " " << result.error_detail;
    }
    RequestHead head;
    const ParseResult result = parse(request, head);
    ASSERT_EQ(result.status, ParseStatus::kComplete);
    EXPECT_EQ(result.consumed, request.size());
  }
}

TEST(RequestParser, PipelinedBytesAreNotConsumed) {
  const std::string first = head_with("Content-Length: 5\r\n", "PUT /a HTTP/1.1");
  const std::string second = head_with("", "GET /b HTTP/1.1");
  const std::string buffer = first + "hello" + second + "GET /partial";
  RequestHead head;
  ParseResult result = parse(buffer, head);
  ASSERT_EQ(result.status, ParseStatus::kComplete);
  EXPECT_EQ(result.consumed, first.size());
  EXPECT_EQ(head.path, "/a");
  EXPECT_EQ(head.content_length, 5u);
  EXPECT_EQ(head.header_count, 2u);

  const std::string_view rest = std::string_view(buffer).substr(first.size() + 5);
  result = parse(rest, head);
  ASSERT_EQ(result.status, ParseStatus::kComplete);
  EXPECT_EQ(result.consumed, second.size());
  EXPECT_EQ(head.path, "/b");
  EXPECT_FALSE(head.has_content_length) << "facts of the previous request must not leak";
  EXPECT_EQ(head.header_count, 1u);

  EXPECT_EQ(parse(rest.substr(second.size()), head).status, ParseStatus::kIncomplete);
}

TEST(RequestParser, ReparsingResetsEveryDerivedFact) {
  RequestHead head;
  const std::string busy = head_with("Transfer-Encoding: chunked\r\nConnection: close\r\nExpect: 100-continue\r\n",
                                     "PUT /x?y HTTP/1.1");
  ASSERT_EQ(parse(busy, head).status, ParseStatus::kComplete);
  ASSERT_TRUE(head.chunked);
  const std::string plain = "GET / HTTP/1.0\r\n\r\n";
  ASSERT_EQ(parse(plain, head).status, ParseStatus::kComplete);
  EXPECT_FALSE(head.chunked);
  EXPECT_FALSE(head.expect_continue);
  EXPECT_FALSE(head.has_host);
  EXPECT_FALSE(head.keep_alive);
  EXPECT_TRUE(head.query.empty());
  EXPECT_EQ(head.header_count, 0u);
  EXPECT_EQ(head.version_minor, 0);
}

TEST(RequestParser, RequestLineLimitGives414) {
  ParserLimits limits;
  limits.max_request_line = 32;
  limits.max_head_bytes = 1024;
  const std::string fits_line = "GET /" + std::string(32 - 14, 'a') + " HTTP/1.1";  // exactly 32 bytes
  ASSERT_EQ(fits_line.size(), 32u);
  RequestHead head;
  EXPECT_EQ(parse(fits_line + "\r\nHost: a\r\n\r\n", head, limits).status, ParseStatus::kComplete);

  const std::string long_line = "GET /" + std::string(32 - 13, 'a') + " HTTP/1.1";  // 33 bytes
  ParseResult result = parse(long_line + "\r\nHost: a\r\n\r\n", head, limits);
  ASSERT_EQ(result.status, ParseStatus::kError);
  EXPECT_EQ(result.error_status, 414);

  // Detected while the line is still incomplete, as soon as it is one byte over.
  const std::string partial = "GET /" + std::string(100, 'a');
  EXPECT_EQ(parse(std::string_view(partial).substr(0, 32), head, limits).status, ParseStatus::kIncomplete);
  result = parse(std::string_view(partial).substr(0, 33), head, limits);
  ASSERT_EQ(result.status, ParseStatus::kError);
  EXPECT_EQ(result.error_status, 414);

  // A method running past the limit is not a long URI but not a method: 400. A method that fits but fills
  // the line is followed by a byte past it: 414. Leading empty lines do not count.
  result = parse(std::string(40, 'G'), head, limits);
  ASSERT_EQ(result.status, ParseStatus::kError);
  EXPECT_EQ(result.error_status, 400);
  result = parse(std::string(33, 'G'), head, limits);
  ASSERT_EQ(result.status, ParseStatus::kError);
  EXPECT_EQ(result.error_status, 400);
  EXPECT_EQ(parse(std::string(32, 'G'), head, limits).status, ParseStatus::kIncomplete);
  result = parse(std::string(32, 'G') + " ", head, limits);
  ASSERT_EQ(result.status, ParseStatus::kError);
  EXPECT_EQ(result.error_status, 414);
  EXPECT_EQ(parse("\r\n\r\n" + fits_line + "\r\nHost: a\r\n\r\n", head, limits).status, ParseStatus::kComplete);
}

TEST(RequestParser, HeadLimitGives431) {
  const std::string request = head_with("X-Fill: " + std::string(50, 'x') + "\r\n");
  ParserLimits limits;
  limits.max_head_bytes = request.size();
  RequestHead head;
  EXPECT_EQ(parse(request, head, limits).status, ParseStatus::kComplete) << "a head of exactly the limit fits";

  limits.max_head_bytes = request.size() - 1;
  ParseResult result = parse(request, head, limits);
  ASSERT_EQ(result.status, ParseStatus::kError);
  EXPECT_EQ(result.error_status, 431);

  // Incomplete but already over the limit: refused without waiting for the rest.
  limits.max_head_bytes = 40;
  const std::string partial = "GET / HTTP/1.1\r\nHost: a\r\nX-Fill: " + std::string(30, 'x');
  EXPECT_EQ(parse(std::string_view(partial).substr(0, 40), head, limits).status, ParseStatus::kIncomplete);
  result = parse(std::string_view(partial).substr(0, 41), head, limits);
  ASSERT_EQ(result.status, ParseStatus::kError);
  EXPECT_EQ(result.error_status, 431);

  // Leading empty lines count toward the head.
  limits.max_head_bytes = request.size();
  result = parse("\r\n" + request, head, limits);
  ASSERT_EQ(result.status, ParseStatus::kError);
  EXPECT_EQ(result.error_status, 431);
}

TEST(RequestParser, FieldCountLimitGives431) {
  std::string fields;
  for (std::size_t i = 1; i < kMaxHeaders; ++i) fields += "X-" + std::to_string(i) + ": v\r\n";
  RequestHead head;
  const std::string at_limit = head_with(fields);  // Host plus kMaxHeaders - 1 others
  ASSERT_EQ(parse(at_limit, head).status, ParseStatus::kComplete);
  EXPECT_EQ(head.header_count, kMaxHeaders);
  EXPECT_EQ(head.headers[kMaxHeaders - 1].name, "X-" + std::to_string(kMaxHeaders - 1));

  const std::string over = head_with(fields + "X-Last: v\r\n");
  ParseResult result = parse(over, head);
  ASSERT_EQ(result.status, ParseStatus::kError);
  EXPECT_EQ(result.error_status, 431);

  // Known as soon as the first byte of the extra field arrives.
  const std::string partial = at_limit.substr(0, at_limit.size() - 2) + "X";
  result = parse(partial, head);
  ASSERT_EQ(result.status, ParseStatus::kError);
  EXPECT_EQ(result.error_status, 431);
}

TEST(RequestParser, ErrorsWithinLimitsWinOverLaterLimitBreaches) {
  ParserLimits limits;
  limits.max_head_bytes = 64;
  RequestHead head;
  const std::string buffer = "GET / HTTP/1.1\r\nHost : a\r\n" + std::string(100, 'x');
  const ParseResult result = parse(buffer, head, limits);
  ASSERT_EQ(result.status, ParseStatus::kError);
  EXPECT_EQ(result.error_status, 400);
}


TEST(RequestParser, HostMustBeAnAuthorityWithoutUserinfo) {
  const std::string_view valid[] = {
      "example.com", "example.com:8080", "127.0.0.1:5000", "localhost:", "[::1]", "[::1]:5000",
      "[2001:db8::ff00:42:8329]", "[1:2:3:4:5:6:7:8]", "[::ffff:192.0.2.1]:80", "[fe80::]", "h%41b",
      "a-b_c~d.e!$&'()*+,;=", "EXAMPLE.COM", "",
  };
  const std::string_view invalid[] = {
      "user@h", "user:pass@h:80", "h/path", "h, other", "a b", "h:port:x", "h:80:90", "[::1", "::1", "h:8x",
      "h:-1", "h: 80", "[::1]x", "[::1]:x", "[]", "[1:2:3:4:5:6:7:8:9]", "[1::2::3]", "[::g]", "[12345::]",
      "[::1.2.3]", "[::1.2.3.256]", "[::01.2.3.4]", "[1.2.3.4::]", "[v1.x]", "h%zz", "h%4", "h?q", "h#f", "h\"",
      "caf\xc3\xa9",
  };
  for (const std::string_view host : valid) {
    const std::string buffer = "GET / HTTP/1.1\r\nHost: " + std::string(host) + "\r\n\r\n";
    RequestHead head;
    const ParseResult result = parse(buffer, head);
    EXPECT_EQ(result.status, ParseStatus::kComplete) << host << ": " << result.error_detail;
    EXPECT_EQ(head.header("host"), host);
  }
  for (const std::string_view host : invalid) {
    const std::string buffer = "GET / HTTP/1.1\r\nHost: " + std::string(host) + "\r\n\r\n";
    RequestHead head;
    const ParseResult result = parse(buffer, head);
    ASSERT_EQ(result.status, ParseStatus::kError) << host;
    EXPECT_EQ(result.error_status, 400) << host;
    EXPECT_TRUE(result.request_line_parsed) << host;
  }
}

TEST(RequestParser, RefusalsAfterTheRequestLineDescribeIt) {
  struct Case {
    std::string buffer;
    int status;
  };
  const Case cases[] = {
      {"PUT /api/buckets/a?v=1 HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\n\r\n", 417},
      {"PUT /api/buckets/a?v=1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"PUT /api/buckets/a?v=1 HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n", 400},
      {"PUT /api/buckets/a?v=1 HTTP/1.1\r\n\r\n", 400},
      {"PUT /api/buckets/a?v=1 HTTP/1.1\r\nHost : h\r\n", 400},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.buffer);
    RequestHead head;
    const ParseResult result = parse(c.buffer, head);
    ASSERT_EQ(result.status, ParseStatus::kError);
    EXPECT_EQ(result.error_status, c.status);
    EXPECT_TRUE(result.request_line_parsed);
    EXPECT_EQ(head.method, Method::kPut);
    EXPECT_EQ(head.method_token, "PUT");
    EXPECT_EQ(head.target, "/api/buckets/a?v=1");
    EXPECT_EQ(head.path, "/api/buckets/a");
    EXPECT_EQ(head.query, "v=1");
    EXPECT_EQ(head.version_minor, 1);
  }
  // Before the request line is accepted there is nothing to describe; an unsupported version included.
  for (const std::string_view buffer : {"GET /a HTTP/2.0\r\n"sv, "GET /a#b HTTP/1.1\r\n"sv, " GET"sv}) {
    RequestHead head;
    const ParseResult result = parse(buffer, head);
    ASSERT_EQ(result.status, ParseStatus::kError) << buffer;
    EXPECT_FALSE(result.request_line_parsed) << buffer;
  }
  ParserLimits limits;
  limits.max_head_bytes = 40;
  RequestHead head;
  const ParseResult too_large = parse("GET /a HTTP/1.1\r\nHost: h\r\nX-Fill: xxxxxxxxxxxxxxx", head, limits);
  ASSERT_EQ(too_large.error_status, 431);
  EXPECT_TRUE(too_large.request_line_parsed);
  EXPECT_EQ(head.path, "/a");
}

// Values and targets are scanned sixteen bytes at a time where the CPU allows: every byte class must be
// judged the same at every position of such a block, and in the tail after the last one.
TEST(RequestParser, EveryByteIsJudgedWhereverItFallsInALongValueOrTarget) {
  constexpr std::size_t kLength = 41;  // two whole blocks and a tail
  const std::string_view value_ok = "\t \x21\x7e\x80\xff";
  const std::string_view value_bad{"\x00\x01\x08\x0a\x0b\x0d\x1f\x7f", 8};
  const std::string_view target_ok = "!~%/=";
  const std::string_view target_bad{"\x00\x09\x1f\x7f\x80\xff#", 7};
  for (std::size_t at = 0; at < kLength; ++at) {
    SCOPED_TRACE("position " + std::to_string(at));
    for (const char c : value_ok) {
      std::string value(kLength, 'v');
      value[at] = c;
      if ((at == 0 || at + 1 == kLength) && (c == ' ' || c == '\t')) value[at] = 'x';  // OWS at an end is trimmed
      const std::string buffer = head_with("X-V: " + value + "\r\n");
      RequestHead head;
      ASSERT_EQ(parse(buffer, head).status, ParseStatus::kComplete) << int(c);
      EXPECT_EQ(head.header("x-v"), value);
    }
    for (const char c : value_bad) {
      std::string value(kLength, 'v');
      value[at] = c;
      RequestHead head;
      const ParseResult result = parse(head_with("X-V: " + value + "\r\n"), head);
      ASSERT_EQ(result.status, ParseStatus::kError) << int(c);
      EXPECT_EQ(result.error_status, 400) << int(c);
    }
    for (const char c : target_ok) {
      std::string target = "/" + std::string(kLength, 't');
      target[at + 1] = c;
      const std::string buffer = head_with("", "GET " + target + " HTTP/1.1");
      RequestHead head;
      ASSERT_EQ(parse(buffer, head).status, ParseStatus::kComplete) << int(c);
      EXPECT_EQ(head.path, target);
    }
    for (const char c : target_bad) {
      std::string target = "/" + std::string(kLength, 't');
      target[at + 1] = c;
      RequestHead head;
      const ParseResult result = parse(head_with("", "GET " + target + " HTTP/1.1"), head);
      ASSERT_EQ(result.status, ParseStatus::kError) << int(c);
      EXPECT_EQ(result.error_status, 400) << int(c);
    }
    std::string target = "/" + std::string(kLength, 't');
    target[at + 1] = '?';
    const std::string buffer = head_with("", "GET " + target + " HTTP/1.1");
    RequestHead head;
    ASSERT_EQ(parse(buffer, head).status, ParseStatus::kComplete);
    EXPECT_EQ(head.path, target.substr(0, at + 1));
    EXPECT_EQ(head.query, target.substr(at + 2));
  }
}

// RequestHeadParser on every case above, split at every byte and fed one byte per call: the same verdict,
// the same consumed count and the same head (by offset) as the one-shot parse.
void expect_incremental_agrees(std::string_view input) {
  RequestHead whole_head;
  const ParseResult whole = parse(input, whole_head);
  const auto offset = [](std::string_view part, std::string_view buffer) {
    return part.empty() ? std::ptrdiff_t{-1} : part.data() - buffer.data();
  };
  const auto expect_same = [&](const ParseResult& result, const RequestHead& head, std::string_view buffer,
                               const std::string& how) {
    EXPECT_EQ(result.status, whole.status) << how;
    EXPECT_EQ(result.error_status, whole.error_status) << how;
    EXPECT_EQ(result.error_detail, whole.error_detail) << how;
    EXPECT_EQ(result.consumed, whole.consumed) << how;
    EXPECT_EQ(result.request_line_parsed, whole.request_line_parsed) << how;
    if (whole.status != ParseStatus::kComplete) return;
    EXPECT_EQ(offset(head.target, buffer), offset(whole_head.target, input)) << how;
    EXPECT_EQ(head.path, whole_head.path) << how;
    EXPECT_EQ(head.query, whole_head.query) << how;
    EXPECT_EQ(head.header_count, whole_head.header_count) << how;
    for (std::size_t i = 0; i < head.header_count && i < whole_head.header_count; ++i) {
      EXPECT_EQ(offset(head.headers[i].value, buffer), offset(whole_head.headers[i].value, input)) << how;
      EXPECT_EQ(head.headers[i].value, whole_head.headers[i].value) << how;
    }
    EXPECT_EQ(head.content_length, whole_head.content_length) << how;
    EXPECT_EQ(head.chunked, whole_head.chunked) << how;
    EXPECT_EQ(head.keep_alive, whole_head.keep_alive) << how;
  };
  const ParserLimits limits;
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    RequestHeadParser parser(limits);
    RequestHead head;
    ParseResult result = parser.parse(input.substr(0, cut), head);
    if (result.status == ParseStatus::kIncomplete) result = parser.parse(input, head);
    expect_same(result, head, input, "cut at " + std::to_string(cut));
  }
  RequestHeadParser parser(limits);
  RequestHead head;
  ParseResult result;
  for (std::size_t length = 0; length <= input.size(); ++length) {
    result = parser.parse(input.substr(0, length), head);
    if (result.status != ParseStatus::kIncomplete) break;
  }
  expect_same(result, head, input, "one byte per call");
}

TEST(RequestParser, IncrementalParserAgreesWithTheOneShotParseAtEverySplit) {
  const std::string valid[] = {
      head_with("User-Agent: t\r\nAccept: */*\r\nX-Empty:\r\nX-Pad: \t a b \t\r\n", "GET /p?q=1 HTTP/1.1"),
      "\r\n\r\n" + head_with("Content-Length: 10\r\nExpect: 100-continue\r\n", "PUT /x HTTP/1.1"),
      "DELETE /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
      head_with("Transfer-Encoding: chunked\r\n", "POST http://h:1/a/b?c HTTP/1.1"),
      head_with("", "OPTIONS * HTTP/1.1"),
      head_with("", "GET https://h HTTP/1.1") + "GET / HTTP/1.1\r\n",
  };
  for (const std::string& input : valid) {
    SCOPED_TRACE(input);
    expect_incremental_agrees(input);
  }
  for (const BadCase& c : bad_cases()) {
    SCOPED_TRACE(c.name);
    expect_incremental_agrees(c.buffer);
  }
}

}  // namespace
}  // namespace http
