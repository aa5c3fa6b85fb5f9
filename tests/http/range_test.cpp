// Byte ranges (RFC 9110 14) and If-Range (13.1.5): every form, the edges of the value, overflow,
// whitespace, unit case, several ranges, and If-Range with a tag, a weak tag, a date and garbage.
#include "http/range.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace http {
namespace {

constexpr std::int64_t kModified = 784111777;
constexpr std::string_view kModifiedText = "Sun, 06 Nov 1994 08:49:37 GMT";
const Validators kCurrent{true, "\"0123456789abcdef\"", kModified};

struct Case {
  std::string range;
  std::uint64_t length;
  RangeKind kind;
  std::uint64_t first = 0;
  std::uint64_t last = 0;
};

std::string describe(const RangeDecision& d) {
  switch (d.kind) {
    case RangeKind::kNone: return "none";
    case RangeKind::kUnsatisfiable: return "416";
    case RangeKind::kSatisfiable: return "206 " + std::to_string(d.range.first) + "-" + std::to_string(d.range.last);
  }
  return "?";
}

std::string describe(RangeKind kind, std::uint64_t first, std::uint64_t last) {
  RangeDecision d;
  d.kind = kind;
  d.range = {first, last};
  return describe(d);
}

TEST(DecideRange, Table) {
  using K = RangeKind;
  const std::string kMax = "18446744073709551615";   // 2^64 - 1
  const std::string kOver = "18446744073709551616";  // 2^64
  const std::string kWayOver = "999999999999999999999999999999";
  const std::vector<Case> cases = {
      // int-range a-b
      {"bytes=0-9", 100, K::kSatisfiable, 0, 9},
      {"bytes=10-19", 100, K::kSatisfiable, 10, 19},
      {"bytes=0-0", 100, K::kSatisfiable, 0, 0},        // the first byte
      {"bytes=99-99", 100, K::kSatisfiable, 99, 99},    // the last byte
      {"bytes=0-99", 100, K::kSatisfiable, 0, 99},      // exactly the whole value
      {"bytes=0-100", 100, K::kSatisfiable, 0, 99},     // last clipped
      {"bytes=50-1000", 100, K::kSatisfiable, 50, 99},
      {"bytes=100-100", 100, K::kUnsatisfiable},        // first-pos == length
      {"bytes=100-200", 100, K::kUnsatisfiable},
      {"bytes=5-4", 100, K::kNone},                     // last < first: invalid
      {"bytes=000-009", 100, K::kSatisfiable, 0, 9},    // leading zeros
      // int-range a-
      {"bytes=0-", 100, K::kSatisfiable, 0, 99},
      {"bytes=99-", 100, K::kSatisfiable, 99, 99},
      {"bytes=100-", 100, K::kUnsatisfiable},
      // suffix-range -n
      {"bytes=-1", 100, K::kSatisfiable, 99, 99},
      {"bytes=-10", 100, K::kSatisfiable, 90, 99},
      {"bytes=-100", 100, K::kSatisfiable, 0, 99},
      {"bytes=-101", 100, K::kSatisfiable, 0, 99},      // longer than the value: all of it
      {"bytes=-0", 100, K::kUnsatisfiable},
      {"bytes=-000", 100, K::kUnsatisfiable},
      // overflow: a valid, huge number
      {"bytes=0-" + kMax, 100, K::kSatisfiable, 0, 99},
      {"bytes=0-" + kOver, 100, K::kSatisfiable, 0, 99},
      {"bytes=0-" + kWayOver, 100, K::kSatisfiable, 0, 99},
      {"bytes=" + kOver + "-", 100, K::kUnsatisfiable},
      {"bytes=" + kWayOver + "-" + kWayOver, 100, K::kUnsatisfiable},
      {"bytes=" + kOver + "-5", 100, K::kNone},         // last < first
      {"bytes=-" + kOver, 100, K::kSatisfiable, 0, 99},
      {"bytes=0-" + kMax, 1, K::kSatisfiable, 0, 0},
      {"bytes=-" + kMax, UINT64_MAX, K::kSatisfiable, 0, UINT64_MAX - 1},
      {"bytes=" + std::to_string(UINT64_MAX - 1) + "-", UINT64_MAX, K::kSatisfiable, UINT64_MAX - 1,
       UINT64_MAX - 1},
      // the unit
      {"BYTES=0-9", 100, K::kSatisfiable, 0, 9},
      {"Bytes=0-9", 100, K::kSatisfiable, 0, 9},
      {"items=0-9", 100, K::kNone},
      {"byte=0-9", 100, K::kNone},
      {"=0-9", 100, K::kNone},
      {"bytes", 100, K::kNone},
      {"bytes 0-9", 100, K::kNone},
      // whitespace: around commas only
      {"bytes =0-9", 100, K::kNone},
      {"bytes= 0-9", 100, K::kNone},
      {"bytes=0 -9", 100, K::kNone},
      {"bytes=0- 9", 100, K::kNone},
      {"bytes=- 9", 100, K::kNone},
      {"bytes=0-9 ,", 100, K::kSatisfiable, 0, 9},
      {"bytes=0-9,\t", 100, K::kSatisfiable, 0, 9},
      // syntax
      {"bytes=", 100, K::kNone},
      {"bytes=,", 100, K::kNone},
      {"bytes=-", 100, K::kNone},
      {"bytes=--5", 100, K::kNone},
      {"bytes=0--5", 100, K::kNone},
      {"bytes=1-2-3", 100, K::kNone},
      {"bytes=+1-2", 100, K::kNone},
      {"bytes=0x10-20", 100, K::kNone},
      {"bytes=a-b", 100, K::kNone},
      {"bytes=5", 100, K::kNone},
      {"bytes==0-5", 100, K::kNone},
      {"bytes=0-5;", 100, K::kNone},
      // several ranges: the whole value, unless none is satisfiable
      {"bytes=0-1,5-6", 100, K::kNone},
      {"bytes=0-1, 5-6", 100, K::kNone},
      {"bytes=0-1,0-1", 100, K::kNone},
      {"bytes=0-1,200-300", 100, K::kNone},
      {"bytes=200-300, 400-", 100, K::kUnsatisfiable},
      {"bytes=200-300, -0", 100, K::kUnsatisfiable},
      {"bytes=0-1,x", 100, K::kNone},                   // one invalid spec voids the field
      {"bytes=200-300,5-4", 100, K::kNone},
      {"bytes=,0-9", 100, K::kSatisfiable, 0, 9},       // empty elements skipped
      {"bytes=0-9,,", 100, K::kSatisfiable, 0, 9},
      {"bytes=, ,0-9 , ,", 100, K::kSatisfiable, 0, 9},
      // an empty value: every range unsatisfiable
      {"bytes=0-", 0, K::kUnsatisfiable},
      {"bytes=0-0", 0, K::kUnsatisfiable},
      {"bytes=-1", 0, K::kUnsatisfiable},
      {"bytes=-0", 0, K::kUnsatisfiable},
      {"bytes=5-4", 0, K::kNone},
      // a one-byte value
      {"bytes=0-0", 1, K::kSatisfiable, 0, 0},
      {"bytes=-5", 1, K::kSatisfiable, 0, 0},
      {"bytes=1-", 1, K::kUnsatisfiable},
  };
  for (const Case& c : cases) {
    const RangeDecision d = decide_range(c.range, {}, c.length, kCurrent);
    EXPECT_EQ(describe(d), describe(c.kind, c.first, c.last)) << c.range << " of " << c.length;
  }
}

TEST(DecideRange, NoRangeField) {
  EXPECT_EQ(decide_range({}, {}, 100, kCurrent).kind, RangeKind::kNone);
  EXPECT_EQ(decide_range({}, "\"0123456789abcdef\"", 100, kCurrent).kind, RangeKind::kNone);
}

TEST(DecideRange, IfRange) {
  const auto with = [](std::string_view if_range, const Validators& current = kCurrent) {
    return describe(decide_range("bytes=10-19", if_range, 100, current));
  };
  const std::string served = "206 10-19";
  EXPECT_EQ(with("\"0123456789abcdef\""), served);
  EXPECT_EQ(with("\"0123456789abcdee\""), "none");           // another tag
  EXPECT_EQ(with("W/\"0123456789abcdef\""), "none");         // weak: never a strong match
  EXPECT_EQ(with("\"0123456789abcdef\"",
                 Validators{true, "W/\"0123456789abcdef\"", kModified}), "none");
  EXPECT_EQ(with(kModifiedText), served);                    // the exact Last-Modified
  EXPECT_EQ(with("Sunday, 06-Nov-94 08:49:37 GMT"), served); // in an obsolete format
  EXPECT_EQ(with("Sun Nov  6 08:49:37 1994"), served);
  EXPECT_EQ(with("Sun, 06 Nov 1994 08:49:38 GMT"), "none");  // later: not equal
  EXPECT_EQ(with("Sun, 06 Nov 1994 08:49:36 GMT"), "none");  // earlier
  for (const std::string_view garbage : {"garbage", "\"0123456789abcdef", "0123456789abcdef", "*", "W/", "\"a b\"",
                                         "\"0123456789abcdef\", \"x\"", "Sun, 31 Nov 1994 08:49:37 GMT"}) {
    EXPECT_EQ(with(garbage), "none") << garbage;
  }
  // A matching If-Range keeps the Range's own verdict, 416 included; a failing one turns 416 into 200.
  EXPECT_EQ(describe(decide_range("bytes=200-", "\"0123456789abcdef\"", 100, kCurrent)), "416");
  EXPECT_EQ(describe(decide_range("bytes=200-", "\"other\"", 100, kCurrent)), "none");
  // No current representation: nothing matches.
  EXPECT_EQ(with("\"0123456789abcdef\"", Validators{false, "\"0123456789abcdef\"", kModified}), "none");
}

TEST(FormatContentRange, SatisfiableUnsatisfiableAndNone) {
  char out[kMaxContentRangeBytes];
  RangeDecision d;
  EXPECT_EQ(format_content_range(d, 100, out), "");
  d.kind = RangeKind::kSatisfiable;
  d.range = {0, 9};
  EXPECT_EQ(format_content_range(d, 100, out), "bytes 0-9/100");
  d.kind = RangeKind::kUnsatisfiable;
  EXPECT_EQ(format_content_range(d, 100, out), "bytes */100");
  EXPECT_EQ(format_content_range(d, 0, out), "bytes */0");
  d.kind = RangeKind::kSatisfiable;
  d.range = {UINT64_MAX - 1, UINT64_MAX - 1};
  const std::string_view widest = format_content_range(d, UINT64_MAX, out);
  EXPECT_EQ(widest, "bytes 18446744073709551614-18446744073709551614/18446744073709551615");
  EXPECT_LE(widest.size(), kMaxContentRangeBytes);
  EXPECT_EQ(format_content_range(decide_range("bytes=-10", {}, 100, kCurrent), 100, out), "bytes 90-99/100");
}

}  // namespace
}  // namespace http
