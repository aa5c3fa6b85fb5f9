#include "http/request_id.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <set>
#include <string>

namespace http {
namespace {

constexpr std::string_view kTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr std::string_view kValid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

RequestHead head_with(std::initializer_list<std::pair<std::string_view, std::string_view>> fields) {
  RequestHead head;
  for (const auto& [name, value] : fields) head.headers[head.header_count++] = Header{name, value};
  return head;
}

bool is_lower_hex(std::string_view text) {
  return text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

TEST(ParseTraceparent, AcceptsTheSpecificationsExample) {
  TraceParent parent;
  ASSERT_TRUE(parse_traceparent(kValid, parent));
  EXPECT_EQ(std::string_view(parent.trace_id, 32), kTraceId);
  EXPECT_EQ(std::string_view(parent.parent_id, 16), "00f067aa0ba902b7");
  EXPECT_EQ(std::string_view(parent.flags, 2), "01");
}

TEST(ParseTraceparent, RefusesWhatTheSpecificationRefuses) {
  TraceParent parent;
  const std::string valid(kValid);
  const auto with = [&](std::size_t at, std::string_view text) {
    std::string s = valid;
    s.replace(at, text.size(), text);
    return s;
  };
  EXPECT_FALSE(parse_traceparent(with(3, std::string(32, '0')), parent)) << "all-zero trace-id";
  EXPECT_FALSE(parse_traceparent(with(36, std::string(16, '0')), parent)) << "all-zero parent-id";
  EXPECT_FALSE(parse_traceparent(with(0, "ff"), parent)) << "version ff";
  EXPECT_FALSE(parse_traceparent(with(3, "4B"), parent)) << "uppercase hex";
  EXPECT_FALSE(parse_traceparent(with(53, "0g"), parent)) << "bad flags";
  EXPECT_FALSE(parse_traceparent(with(0, "0x"), parent)) << "bad version";
  EXPECT_FALSE(parse_traceparent(with(35, "_"), parent)) << "bad separator";
  EXPECT_FALSE(parse_traceparent(valid + "-extra", parent)) << "version 00 is exactly 55 characters";
  EXPECT_FALSE(parse_traceparent(valid.substr(0, 54), parent)) << "short";
  EXPECT_FALSE(parse_traceparent("", parent));
  EXPECT_FALSE(parse_traceparent(" " + valid.substr(1), parent));
}

TEST(ParseTraceparent, LaterVersionsMayAppendFields) {
  TraceParent parent;
  std::string later(kValid);
  later.replace(0, 2, "01");
  EXPECT_TRUE(parse_traceparent(later, parent));
  EXPECT_TRUE(parse_traceparent(later + "-what-comes-next", parent));
  EXPECT_FALSE(parse_traceparent(later + "x", parent));
}

TEST(IsValidRequestId, BoundedSafeCharacters) {
  EXPECT_TRUE(is_valid_request_id("f47ac10b-58cc-4372-a567-0e02b2c3d479"));
  EXPECT_TRUE(is_valid_request_id("a"));
  EXPECT_TRUE(is_valid_request_id("Zm9v+YmFy/=_.:"));
  EXPECT_TRUE(is_valid_request_id(std::string(kMaxRequestIdBytes, 'x')));
  EXPECT_FALSE(is_valid_request_id(std::string(kMaxRequestIdBytes + 1, 'x')));
  EXPECT_FALSE(is_valid_request_id(""));
  EXPECT_FALSE(is_valid_request_id("a b"));
  EXPECT_FALSE(is_valid_request_id("a\"b"));
  EXPECT_FALSE(is_valid_request_id("a\\b"));
  EXPECT_FALSE(is_valid_request_id("caf\xc3\xa9"));
}

TEST(ParseTraceparent, EveryByteInEveryHexPosition) {
  // Each of the 52 hex positions, each byte value: valid exactly for 0-9 and a-f (and not making an id all
  // zeros, which kValid's digits never allow here since other digits stay non-zero).
  const std::string valid(kValid);
  TraceParent parent;
  for (std::size_t at = 0; at < valid.size(); ++at) {
    if (valid[at] == '-') continue;
    for (int byte = 0; byte < 256; ++byte) {
      std::string s = valid;
      s[at] = static_cast<char>(byte);
      const bool hex = (byte >= '0' && byte <= '9') || (byte >= 'a' && byte <= 'f');
      const bool expected = hex && !(at < 2 && s[0] == 'f' && s[1] == 'f');
      ASSERT_EQ(parse_traceparent(s, parent), expected) << "position " << at << " byte " << byte;
    }
  }
}

TEST(RequestIdGenerator, HexSpellsTheGeneratedBits) {
  RequestIdGenerator digits(99);
  RequestIdGenerator bits(99);
  for (int i = 0; i < 100; ++i) {
    char out[32];
    digits.hex(out, 32);
    char expected[33];
    const auto high = static_cast<unsigned long long>(bits.next());
    const auto low = static_cast<unsigned long long>(bits.next());
    std::snprintf(expected, sizeof expected, "%016llx%016llx", high, low);
    ASSERT_EQ(std::string_view(out, 32), std::string_view(expected, 32));
  }
}

TEST(RequestIdGenerator, DistinctLowercaseHexFromDistinctSeeds) {
  RequestIdGenerator a(1);
  RequestIdGenerator b(2);
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    char digits[32];
    a.hex(digits, 32);
    ASSERT_TRUE(is_lower_hex({digits, 32}));
    seen.emplace(digits, 32);
    b.hex(digits, 32);
    seen.emplace(digits, 32);
  }
  EXPECT_EQ(seen.size(), 2000u);
}

TEST(RequestId, TraceparentGivesTheTraceIdAndOurSpan) {
  RequestIdGenerator generator(7);
  RequestId id;
  id.assign(head_with({{"Host", "x"}, {"TraceParent", kValid}, {"X-Request-Id", "ignored"}}), generator);
  EXPECT_EQ(id.source(), RequestIdSource::kTraceparent);
  EXPECT_EQ(id.text(), kTraceId);
  EXPECT_EQ(id.field_name(), "traceparent");
  const std::string_view echo = id.field_value();
  ASSERT_EQ(echo.size(), kTraceparentBytes);
  EXPECT_EQ(echo.substr(0, 36), "00-" + std::string(kTraceId) + "-");
  EXPECT_NE(echo.substr(36, 16), "00f067aa0ba902b7") << "the response names our span, not the caller's";
  EXPECT_TRUE(is_lower_hex(echo.substr(36, 16)));
  EXPECT_EQ(echo.substr(52), "-01");
  TraceParent parsed;
  EXPECT_TRUE(parse_traceparent(echo, parsed));
}

TEST(RequestId, HeaderWhenNoValidTraceparent) {
  RequestIdGenerator generator(7);
  RequestId id;
  id.assign(head_with({{"traceparent", "00-bad"}, {"x-request-id", "req-42"}}), generator);
  EXPECT_EQ(id.source(), RequestIdSource::kHeader);
  EXPECT_EQ(id.text(), "req-42");
  EXPECT_EQ(id.field_name(), "X-Request-Id");
  EXPECT_EQ(id.field_value(), "req-42");
}

TEST(RequestId, TwoTraceparentsAreNone) {
  RequestIdGenerator generator(7);
  RequestId id;
  id.assign(head_with({{"traceparent", kValid}, {"traceparent", kValid}}), generator);
  EXPECT_EQ(id.source(), RequestIdSource::kGenerated);
}

TEST(RequestId, GeneratedWhenAbsentOrInvalid) {
  RequestIdGenerator generator(7);
  RequestId id;
  EXPECT_TRUE(id.empty());
  EXPECT_EQ(id.field_name(), "");
  id.assign(head_with({{"X-Request-Id", "has space"}}), generator);
  EXPECT_EQ(id.source(), RequestIdSource::kGenerated);
  EXPECT_EQ(id.text().size(), 32u);
  EXPECT_TRUE(is_lower_hex(id.text()));
  EXPECT_EQ(id.field_name(), "X-Request-Id");
  EXPECT_EQ(id.field_value(), id.text());
  const std::string first(id.text());
  id.assign(head_with({}), generator);
  EXPECT_NE(id.text(), first);
  id.clear();
  EXPECT_TRUE(id.empty());
  EXPECT_EQ(id.text(), "");
}

}  // namespace
}  // namespace http
