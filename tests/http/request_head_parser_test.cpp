// RequestHeadParser as a connection drives it: a head arriving in pieces costs O(its length) however it is
// split, and an invalid head is refused at the byte that makes it certain. Verdicts themselves (and their
// agreement with parse_request_head at every split) are in request_parser_test.cpp.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "http/request_parser.h"

namespace http {
namespace {

using namespace std::string_literals;

// Bytes examined per byte of input, at most: each byte is scanned once, looked at again where a line ends
// (trimming, the stop byte of a scan) and, for the few framing fields, once more by their value check.
constexpr std::size_t kExaminedPerByte = 3;

struct Trickled {
  ParseResult result;
  std::size_t calls = 0;
  std::size_t examined = 0;
};

// Feeds `input` one more byte per call, as a connection does when each read brings one byte.
Trickled trickle(std::string_view input, const ParserLimits& limits = {}) {
  RequestHeadParser parser(limits);
  RequestHead head;
  Trickled out;
  for (std::size_t length = 1; length <= input.size(); ++length) {
    out.result = parser.parse(input.substr(0, length), head);
    ++out.calls;
    if (out.result.status != ParseStatus::kIncomplete) break;
  }
  out.examined = parser.bytes_examined();
  return out;
}

std::string fill_fields(std::size_t bytes) {
  std::string fields;
  for (int i = 0; fields.size() < bytes; ++i) fields += "X-Fill-" + std::to_string(i) + ": " + std::string(400, 'v') + "\r\n";
  return fields;
}

TEST(RequestHeadParser, TrickledHeadCostsLinearTime) {
  const ParserLimits limits;
  const std::size_t line_limit = limits.max_request_line;
  struct Case {
    std::string name;
    std::string head;
  };
  std::vector<Case> cases;
  // The request lines that used to be the worst cases: right under and right at the line limit, followed
  // by 7,000 bytes of fields that arrive one byte per read.
  for (const std::size_t line_length : {line_limit - 1, line_limit}) {
    const std::string line = "GET /" + std::string(line_length - 14, 'a') + " HTTP/1.1";
    EXPECT_EQ(line.size(), line_length);
    cases.push_back({"line of " + std::to_string(line_length), line + "\r\nHost: h\r\n" + fill_fields(7000) + "\r\n"});
  }
  std::string many = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (std::size_t i = 1; i < kMaxHeaders; ++i) many += "X-" + std::to_string(i) + ": v\r\n";
  cases.push_back({"many fields", many + "\r\n"});
  cases.push_back({"long value", "GET / HTTP/1.1\r\nHost: h\r\nX-Long: " + std::string(15000, 'v') + "\r\n\r\n"});
  cases.push_back({"long framing values", "PUT / HTTP/1.1\r\nHost: " + std::string(7000, 'h') +
                                              "\r\nContent-Length: " + std::string(7000, '0') + "\r\n\r\n"});

  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_LE(c.head.size(), limits.max_head_bytes);
    const Trickled trickled = trickle(c.head, limits);
    ASSERT_EQ(trickled.result.status, ParseStatus::kComplete) << trickled.result.error_detail;
    EXPECT_EQ(trickled.result.consumed, c.head.size());
    EXPECT_EQ(trickled.calls, c.head.size());
    EXPECT_LE(trickled.examined, kExaminedPerByte * c.head.size());

    // One byte per call costs what one call costs, but for the target's first bytes, judged again while
    // they arrive (at most 1 + 2 + ... + 8 looks).
    RequestHeadParser whole(limits);
    RequestHead head;
    ASSERT_EQ(whole.parse(c.head, head).status, ParseStatus::kComplete);
    EXPECT_GE(whole.bytes_examined(), c.head.size());
    EXPECT_LE(whole.bytes_examined(), kExaminedPerByte * c.head.size());
    EXPECT_LE(trickled.examined, whole.bytes_examined() + 36);
  }
}

TEST(RequestHeadParser, TrickledOverlongHeadIsRefusedInLinearTime) {
  const ParserLimits limits;
  const std::string head = "GET / HTTP/1.1\r\nHost: h\r\n" + fill_fields(limits.max_head_bytes + 100);
  const Trickled trickled = trickle(head, limits);
  ASSERT_EQ(trickled.result.status, ParseStatus::kError);
  EXPECT_EQ(trickled.result.error_status, 431);
  EXPECT_EQ(trickled.calls, limits.max_head_bytes + 1) << "refused by the first byte past the limit";
  EXPECT_LE(trickled.examined, kExaminedPerByte * trickled.calls);
}

TEST(RequestHeadParser, CallsWithoutNewBytesExamineNothing) {
  const std::string partial = "\r\nGET /a?b HTTP/1.1\r\nHost: h\r\nX-A: v \r";
  const ParserLimits limits;
  for (std::size_t length = 0; length <= partial.size(); ++length) {
    RequestHeadParser parser(limits);
    RequestHead head;
    ASSERT_EQ(parser.parse(std::string_view(partial).substr(0, length), head).status, ParseStatus::kIncomplete);
    const std::size_t examined = parser.bytes_examined();
    for (int again = 0; again < 100; ++again) {
      ASSERT_EQ(parser.parse(std::string_view(partial).substr(0, length), head).status, ParseStatus::kIncomplete);
    }
    EXPECT_EQ(parser.bytes_examined(), examined) << "prefix of " << length;
  }
}

TEST(RequestHeadParser, BufferMayMoveBetweenCalls) {
  const std::string input = "PUT http://h/api/buckets/x?v=2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nX-A: b\r\n\r\n";
  const ParserLimits limits;
  RequestHeadParser parser(limits);
  RequestHead head;
  ParseResult result;
  std::vector<std::string> copies;  // every call sees its own copy at a new address
  for (std::size_t length = 1; length <= input.size(); ++length) {
    copies.push_back(input.substr(0, length));
    result = parser.parse(copies.back(), head);
    if (result.status != ParseStatus::kIncomplete) break;
  }
  ASSERT_EQ(result.status, ParseStatus::kComplete);
  const std::string& last = copies.back();
  const auto inside_last = [&](std::string_view part) {
    return part.data() >= last.data() && part.data() + part.size() <= last.data() + last.size();
  };
  EXPECT_TRUE(inside_last(head.method_token));
  EXPECT_TRUE(inside_last(head.target));
  EXPECT_TRUE(inside_last(head.path));
  EXPECT_TRUE(inside_last(head.query));
  ASSERT_EQ(head.header_count, 3u);
  for (std::size_t i = 0; i < head.header_count; ++i) {
    EXPECT_TRUE(inside_last(head.headers[i].name));
    EXPECT_TRUE(inside_last(head.headers[i].value));
  }
  EXPECT_EQ(head.path, "/api/buckets/x");
  EXPECT_EQ(head.query, "v=2");
  EXPECT_EQ(head.header("x-a"), "b");
  EXPECT_EQ(head.content_length, 3u);
}

TEST(RequestHeadParser, VerdictStaysUntilResetThenTheNextHeadParses) {
  const std::string first = "GET /one HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string second = "\r\nGET /two HTTP/1.0\r\n\r\n";
  const std::string stream = first + second;
  const ParserLimits limits;
  RequestHeadParser parser(limits);
  RequestHead head;
  ParseResult result = parser.parse(stream, head);
  ASSERT_EQ(result.status, ParseStatus::kComplete);
  EXPECT_EQ(result.consumed, first.size());
  EXPECT_EQ(head.path, "/one");
  result = parser.parse(stream, head);
  EXPECT_EQ(result.status, ParseStatus::kComplete) << "asked again, the same answer";
  EXPECT_EQ(result.consumed, first.size());

  parser.reset();
  EXPECT_EQ(parser.bytes_examined(), 0u);
  result = parser.parse(std::string_view(stream).substr(first.size()), head);
  ASSERT_EQ(result.status, ParseStatus::kComplete);
  EXPECT_EQ(result.consumed, second.size()) << "the leading empty line belongs to the head";
  EXPECT_EQ(head.path, "/two");
  EXPECT_EQ(head.version_minor, 0);
  EXPECT_FALSE(head.has_host);
  EXPECT_EQ(head.header_count, 0u);

  parser.reset();
  ASSERT_EQ(parser.parse(" GET", head).status, ParseStatus::kError);
  result = parser.parse(" GET / HTTP/1.1\r\n", head);
  EXPECT_EQ(result.status, ParseStatus::kError) << "an error stays too";
  EXPECT_EQ(result.error_status, 400);
}

// Each input is refused by the byte at `at` (0-based) and not one byte earlier.
struct EarlyRefusal {
  const char* name;
  std::string input;
  std::size_t at;
  int status;
  ParserLimits limits = {};
};

std::vector<EarlyRefusal> early_refusals() {
  const std::string host = "GET / HTTP/1.1\r\nHost: h\r\n";
  ParserLimits small_line;
  small_line.max_request_line = 32;
  ParserLimits small_head;
  small_head.max_head_bytes = 40;
  return {
      {"TLS ClientHello", "\x16\x03\x01\x00\xa5\x01\x00"s, 0, 400},
      {"leading space", " GET / HTTP/1.1\r\n", 0, 400},
      {"bare LF among leading empty lines", "\r\n\r\n\nGET", 4, 400},
      {"bare CR among leading empty lines", "\r\n\rGET", 3, 400},
      {"bad method byte", "GE(T / HTTP/1.1\r\n", 2, 400},
      {"method of 65 bytes", std::string(70, 'M'), 64, 400},
      {"method past a short line limit", std::string(40, 'M'), 32, 400, small_line},
      {"method filling a short line limit", std::string(32, 'M') + " /", 32, 414, small_line},
      {"target past the line limit", "GET /" + std::string(40, 'a'), 32, 414, small_line},
      {"version past the line limit", "GET /" + std::string(20, 'a') + " HTTP/1.1\r\n", 32, 414, small_line},
      {"HTTP/0.9 request line", "GET /\r\n\r\n", 5, 400},
      {"relative target", "GET a/b HTTP/1.1\r\n", 4, 400},
      {"not a scheme", "GET hxxp://h/ HTTP/1.1\r\n", 5, 400},
      {"another scheme", "GET ftp://h/ HTTP/1.1\r\n", 4, 400},
      {"empty authority", "GET http:///a HTTP/1.1\r\n", 11, 400},
      {"asterisk with GET", "GET * HTTP/1.1\r\n", 4, 400},
      {"asterisk with a suffix", "OPTIONS *x HTTP/1.1\r\n", 9, 400},
      {"fragment", "GET /a#b HTTP/1.1\r\n", 6, 400},
      {"control byte in target", "GET /a\x01 HTTP/1.1\r\n", 6, 400},
      {"lowercase version", "GET / http/1.1\r\n", 6, 400},
      {"bad version digit", "GET / HTTP/x.1\r\n", 11, 400},
      {"bad version dot", "GET / HTTP/1,1\r\n", 12, 400},
      {"two-digit minor", "GET / HTTP/1.10\r\n", 14, 400},
      {"bare LF after version", "GET / HTTP/1.1\nHost: h\r\n\r\n", 14, 400},
      {"unsupported version", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 15, 505},
      {"space before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 20, 400},
      {"obs-fold", host + " folded\r\n\r\n", host.size(), 400},
      {"control byte in value", host + "X-A: a\x01\r\n\r\n", host.size() + 6, 400},
      {"bad Content-Length", host + "Content-Length: x\r\n", host.size() + 18, 400},
      {"bad Host", "GET / HTTP/1.1\r\nHost: a@b\r\n", 26, 400},
      {"second Host", host + "Host: h\r\n", host.size() + 8, 400},
      {"chunked then gzip", host + "Transfer-Encoding: chunked, gzip\r\n", host.size() + 33, 400},
      {"chunked twice", host + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", host.size() + 55, 400},
      {"Content-Length then Transfer-Encoding", host + "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n",
       host.size() + 46, 400},
      {"Transfer-Encoding in HTTP/1.0", "GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n", 43, 400},
      {"gzip then chunked, at the blank line", host + "Transfer-Encoding: gzip, chunked\r\n\r\n", host.size() + 35,
       501},
      {"missing Host, at the blank line", "GET / HTTP/1.1\r\n\r\n", 17, 400},
      {"head past its limit", "GET / HTTP/1.1\r\nHost: h\r\nX-Fill: " + std::string(30, 'x'), 40, 431, small_head},
  };
}

TEST(RequestHeadParser, RefusesAtTheByteThatMakesTheHeadInvalid) {
  for (const EarlyRefusal& c : early_refusals()) {
    SCOPED_TRACE(c.name);
    ASSERT_LT(c.at, c.input.size());
    const Trickled trickled = trickle(c.input, c.limits);
    ASSERT_EQ(trickled.result.status, ParseStatus::kError);
    EXPECT_EQ(trickled.result.error_status, c.status) << trickled.result.error_detail;
    EXPECT_EQ(trickled.calls, c.at + 1) << "refused after " << trickled.calls << " bytes";
    // The one-shot parse of every longer prefix says the same.
    for (std::size_t length = c.at + 1; length <= c.input.size(); ++length) {
      RequestHead head;
      const ParseResult whole = parse_request_head(std::string_view(c.input).substr(0, length), c.limits, head);
      ASSERT_EQ(whole.status, ParseStatus::kError) << length;
      EXPECT_EQ(whole.error_status, c.status) << length;
    }
  }
}

}  // namespace
}  // namespace http
