// Conditional requests (RFC 9110 13.2.2): one table over each precondition alone and the combinations
// where precedence decides, against a present and an absent target; then entity-tag syntax and format_etag.
#include "http/validators.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "http/request_parser.h"

namespace http {
namespace {

// Sun, 06 Nov 1994 08:49:37 GMT, the target's Last-Modified, and the same instant in the other formats.
constexpr std::int64_t kModified = 784111777;
constexpr std::string_view kAt = "Sun, 06 Nov 1994 08:49:37 GMT";
constexpr std::string_view kBefore = "Sun, 06 Nov 1994 08:49:36 GMT";
constexpr std::string_view kAfter = "Sun, 06 Nov 1994 08:49:38 GMT";
constexpr std::string_view kAtRfc850 = "Sunday, 06-Nov-94 08:49:37 GMT";
constexpr std::string_view kBeforeRfc850 = "Sunday, 06-Nov-94 08:49:36 GMT";
constexpr std::string_view kAtAsctime = "Sun Nov  6 08:49:37 1994";
constexpr std::string_view kBeforeAsctime = "Sun Nov  6 08:49:36 1994";

const Validators kPresent{true, "\"abc\"", kModified};
const Validators kAbsent{false, {}, 0};

struct Case {
  std::string name;
  std::string method;
  std::string fields;  // field lines, each ending in CRLF
  Validators current;
  Precondition expected;
};

std::string line(std::string_view name, std::string_view value) {
  return std::string(name) + ": " + std::string(value) + "\r\n";
}

const char* label(Precondition p) {
  switch (p) {
    case Precondition::kProceed: return "proceed";
    case Precondition::kNotModified: return "304";
    case Precondition::kFailed: return "412";
    case Precondition::kMalformed: return "400";
  }
  return "?";
}

std::vector<Case> cases() {
  using P = Precondition;
  const std::string at(kAt), before(kBefore), after(kAfter);
  return {
      {"no preconditions", "GET", "", kPresent, P::kProceed},
      {"no preconditions, absent", "PUT", "", kAbsent, P::kProceed},
      {"unrelated If- field", "GET", line("If-Range", "\"abc\""), kPresent, P::kProceed},

      // If-Match: strong comparison, "*", lists.
      {"If-Match equal", "PUT", line("If-Match", "\"abc\""), kPresent, P::kProceed},
      {"If-Match equal on GET", "GET", line("If-Match", "\"abc\""), kPresent, P::kProceed},
      {"If-Match name in any case", "PUT", line("if-match", "\"abc\""), kPresent, P::kProceed},
      {"If-Match other tag", "PUT", line("If-Match", "\"xyz\""), kPresent, P::kFailed},
      {"If-Match other tag on GET", "GET", line("If-Match", "\"xyz\""), kPresent, P::kFailed},
      {"If-Match weak tag never matches", "PUT", line("If-Match", "W/\"abc\""), kPresent, P::kFailed},
      {"If-Match against a weak current tag", "PUT", line("If-Match", "\"abc\""),
       Validators{true, "W/\"abc\"", kModified}, P::kFailed},
      {"If-Match tag differing in case", "PUT", line("If-Match", "\"ABC\""), kPresent, P::kFailed},
      {"If-Match list, second matches", "PUT", line("If-Match", "\"xyz\", \"abc\""), kPresent, P::kProceed},
      {"If-Match list, no OWS", "PUT", line("If-Match", "\"xyz\",\"abc\""), kPresent, P::kProceed},
      {"If-Match list, tabs", "PUT", line("If-Match", "\"xyz\"\t,\t\"abc\""), kPresent, P::kProceed},
      {"If-Match list, none matches", "PUT", line("If-Match", "\"xyz\", W/\"abc\""), kPresent, P::kFailed},
      {"If-Match list over two lines", "PUT", line("If-Match", "\"xyz\"") + line("If-Match", "\"abc\""), kPresent,
       P::kProceed},
      {"If-Match list over two lines, none matches", "PUT", line("If-Match", "\"x\"") + line("If-Match", "\"y\""),
       kPresent, P::kFailed},
      {"If-Match empty elements skipped", "PUT", line("If-Match", ", ,\"abc\" ,,"), kPresent, P::kProceed},
      {"If-Match with no element matches nothing", "PUT", line("If-Match", ","), kPresent, P::kFailed},
      {"If-Match tag holding a comma", "PUT", line("If-Match", "\"a,b\""), Validators{true, "\"a,b\"", kModified},
       P::kProceed},
      {"If-Match empty opaque tag", "PUT", line("If-Match", "\"\""), Validators{true, "\"\"", kModified},
       P::kProceed},
      {"If-Match obs-text in a tag", "PUT", line("If-Match", "\"\xc3\xa9\""),
       Validators{true, "\"\xc3\xa9\"", kModified}, P::kProceed},
      {"If-Match * on a present target", "PUT", line("If-Match", "*"), kPresent, P::kProceed},
      {"If-Match * on an absent target", "PUT", line("If-Match", "*"), kAbsent, P::kFailed},
      {"If-Match tag on an absent target", "PUT", line("If-Match", "\"abc\""), kAbsent, P::kFailed},
      {"If-Match on a target without a tag", "PUT", line("If-Match", "\"abc\""), Validators{true, {}, kModified},
       P::kFailed},

      // Malformed tag lists answer 400 whatever else the request says.
      {"If-Match unquoted", "PUT", line("If-Match", "abc"), kPresent, P::kMalformed},
      {"If-Match unterminated", "PUT", line("If-Match", "\"abc"), kPresent, P::kMalformed},
      {"If-Match space inside", "PUT", line("If-Match", "\"a b\""), kPresent, P::kMalformed},
      {"If-Match no comma between tags", "PUT", line("If-Match", "\"abc\" \"x\""), kPresent, P::kMalformed},
      {"If-Match lower-case weak prefix", "PUT", line("If-Match", "w/\"abc\""), kPresent, P::kMalformed},
      {"If-Match space after W/", "PUT", line("If-Match", "W/ \"abc\""), kPresent, P::kMalformed},
      {"If-Match text after a tag", "PUT", line("If-Match", "\"abc\"x"), kPresent, P::kMalformed},
      {"If-Match * beside a tag", "PUT", line("If-Match", "*, \"abc\""), kPresent, P::kMalformed},
      {"If-Match * twice", "PUT", line("If-Match", "*, *"), kPresent, P::kMalformed},
      {"If-Match * on one line, a tag on another", "PUT", line("If-Match", "*") + line("If-Match", "\"abc\""),
       kPresent, P::kMalformed},
      {"If-Match **", "PUT", line("If-Match", "**"), kPresent, P::kMalformed},
      {"If-Match malformed second line", "PUT", line("If-Match", "\"abc\"") + line("If-Match", "bad"), kPresent,
       P::kMalformed},
      {"If-None-Match unquoted", "GET", line("If-None-Match", "abc"), kPresent, P::kMalformed},
      {"If-None-Match * beside a tag", "GET", line("If-None-Match", "\"x\", *"), kPresent, P::kMalformed},
      {"malformed If-None-Match after a failing If-Match", "PUT",
       line("If-Match", "\"xyz\"") + line("If-None-Match", "bad"), kPresent, P::kMalformed},

      // If-Unmodified-Since: passes while last_modified <= date; ignored under If-Match, when absent, when invalid.
      {"If-Unmodified-Since at", "PUT", line("If-Unmodified-Since", at), kPresent, P::kProceed},
      {"If-Unmodified-Since after", "PUT", line("If-Unmodified-Since", after), kPresent, P::kProceed},
      {"If-Unmodified-Since before", "PUT", line("If-Unmodified-Since", before), kPresent, P::kFailed},
      {"If-Unmodified-Since before on GET", "GET", line("If-Unmodified-Since", before), kPresent, P::kFailed},
      {"If-Unmodified-Since before on DELETE", "DELETE", line("If-Unmodified-Since", before), kPresent,
       P::kFailed},
      {"If-Unmodified-Since before, RFC 850", "PUT", line("If-Unmodified-Since", kBeforeRfc850), kPresent,
       P::kFailed},
      {"If-Unmodified-Since at, RFC 850", "PUT", line("If-Unmodified-Since", kAtRfc850), kPresent, P::kProceed},
      {"If-Unmodified-Since before, asctime", "PUT", line("If-Unmodified-Since", kBeforeAsctime), kPresent,
       P::kFailed},
      {"If-Unmodified-Since at, asctime", "PUT", line("If-Unmodified-Since", kAtAsctime), kPresent, P::kProceed},
      {"If-Unmodified-Since invalid date ignored", "PUT", line("If-Unmodified-Since", "yesterday"), kPresent,
       P::kProceed},
      {"If-Unmodified-Since in UTC ignored", "PUT", line("If-Unmodified-Since", "Sun, 06 Nov 1994 08:49:36 UTC"),
       kPresent, P::kProceed},
      {"If-Unmodified-Since impossible day ignored", "PUT",
       line("If-Unmodified-Since", "Thu, 31 Nov 1994 08:49:36 GMT"), kPresent, P::kProceed},
      {"If-Unmodified-Since on two lines ignored", "PUT",
       line("If-Unmodified-Since", before) + line("If-Unmodified-Since", before), kPresent, P::kProceed},
      {"If-Unmodified-Since on an absent target ignored", "PUT", line("If-Unmodified-Since", before), kAbsent,
       P::kProceed},
      {"If-Match passing outranks If-Unmodified-Since", "PUT",
       line("If-Unmodified-Since", before) + line("If-Match", "\"abc\""), kPresent, P::kProceed},
      {"If-Match failing with a passing If-Unmodified-Since", "PUT",
       line("If-Match", "\"xyz\"") + line("If-Unmodified-Since", after), kPresent, P::kFailed},

      // If-None-Match: weak comparison; 304 for GET/HEAD, 412 otherwise.
      {"If-None-Match equal on GET", "GET", line("If-None-Match", "\"abc\""), kPresent, P::kNotModified},
      {"If-None-Match equal on HEAD", "HEAD", line("If-None-Match", "\"abc\""), kPresent, P::kNotModified},
      {"If-None-Match equal on PUT", "PUT", line("If-None-Match", "\"abc\""), kPresent, P::kFailed},
      {"If-None-Match equal on DELETE", "DELETE", line("If-None-Match", "\"abc\""), kPresent, P::kFailed},
      {"If-None-Match weak tag matches weakly", "GET", line("If-None-Match", "W/\"abc\""), kPresent,
       P::kNotModified},
      {"If-None-Match against a weak current tag", "GET", line("If-None-Match", "\"abc\""),
       Validators{true, "W/\"abc\"", kModified}, P::kNotModified},
      {"If-None-Match other tag", "GET", line("If-None-Match", "\"xyz\""), kPresent, P::kProceed},
      {"If-None-Match list, one matches", "GET", line("If-None-Match", "\"x\", \"y\", W/\"abc\""), kPresent,
       P::kNotModified},
      {"If-None-Match list over two lines", "GET", line("If-None-Match", "\"x\"") + line("If-None-Match", "\"abc\""),
       kPresent, P::kNotModified},
      {"If-None-Match with no element", "GET", line("If-None-Match", ", ,"), kPresent, P::kProceed},
      {"If-None-Match * on a present target, GET", "GET", line("If-None-Match", "*"), kPresent, P::kNotModified},
      {"If-None-Match * on a present target, PUT", "PUT", line("If-None-Match", "*"), kPresent, P::kFailed},
      {"If-None-Match * on an absent target, PUT", "PUT", line("If-None-Match", "*"), kAbsent, P::kProceed},
      {"If-None-Match * on an absent target, GET", "GET", line("If-None-Match", "*"), kAbsent, P::kProceed},
      {"If-None-Match tag on an absent target", "PUT", line("If-None-Match", "\"abc\""), kAbsent, P::kProceed},

      // If-Modified-Since: GET and HEAD only; 304 while last_modified <= date.
      {"If-Modified-Since at", "GET", line("If-Modified-Since", at), kPresent, P::kNotModified},
      {"If-Modified-Since after", "GET", line("If-Modified-Since", after), kPresent, P::kNotModified},
      {"If-Modified-Since before", "GET", line("If-Modified-Since", before), kPresent, P::kProceed},
      {"If-Modified-Since at, HEAD", "HEAD", line("If-Modified-Since", at), kPresent, P::kNotModified},
      {"If-Modified-Since at, RFC 850", "GET", line("If-Modified-Since", kAtRfc850), kPresent, P::kNotModified},
      {"If-Modified-Since before, RFC 850", "GET", line("If-Modified-Since", kBeforeRfc850), kPresent,
       P::kProceed},
      {"If-Modified-Since at, asctime", "GET", line("If-Modified-Since", kAtAsctime), kPresent, P::kNotModified},
      {"If-Modified-Since on PUT ignored", "PUT", line("If-Modified-Since", at), kPresent, P::kProceed},
      {"If-Modified-Since on DELETE ignored", "DELETE", line("If-Modified-Since", at), kPresent, P::kProceed},
      {"If-Modified-Since invalid date ignored", "GET", line("If-Modified-Since", "Sun, 06 Nov 94 08:49:37 GMT"),
       kPresent, P::kProceed},
      {"If-Modified-Since lower-case month ignored", "GET", line("If-Modified-Since", "Sun, 06 nov 1994 08:49:37 GMT"),
       kPresent, P::kProceed},
      {"If-Modified-Since on two lines ignored", "GET",
       line("If-Modified-Since", at) + line("If-Modified-Since", at), kPresent, P::kProceed},
      {"If-Modified-Since on an absent target ignored", "GET", line("If-Modified-Since", at), kAbsent,
       P::kProceed},
      {"If-None-Match passing outranks If-Modified-Since", "GET",
       line("If-Modified-Since", at) + line("If-None-Match", "\"xyz\""), kPresent, P::kProceed},
      {"If-None-Match failing outranks a passing If-Modified-Since", "GET",
       line("If-None-Match", "\"abc\"") + line("If-Modified-Since", before), kPresent, P::kNotModified},

      // Across the two halves: If-Match / If-Unmodified-Since are evaluated first.
      {"If-Match passing, If-None-Match failing, GET", "GET",
       line("If-Match", "\"abc\"") + line("If-None-Match", "\"abc\""), kPresent, P::kNotModified},
      {"If-Match failing before If-None-Match, GET", "GET",
       line("If-None-Match", "\"abc\"") + line("If-Match", "\"xyz\""), kPresent, P::kFailed},
      {"If-Match * and If-None-Match * on a present target", "PUT",
       line("If-Match", "*") + line("If-None-Match", "*"), kPresent, P::kFailed},
      {"If-Unmodified-Since failing before If-None-Match", "GET",
       line("If-Unmodified-Since", before) + line("If-None-Match", "\"abc\""), kPresent, P::kFailed},
      {"If-Unmodified-Since passing, If-Modified-Since failing", "GET",
       line("If-Unmodified-Since", after) + line("If-Modified-Since", at), kPresent, P::kNotModified},
      {"all four passing", "GET",
       line("If-Match", "\"abc\"") + line("If-Unmodified-Since", before) + line("If-None-Match", "\"x\"") +
           line("If-Modified-Since", before),
       kPresent, P::kProceed},
  };
}

TEST(EvaluatePreconditions, Rfc9110Table) {
  for (const Case& c : cases()) {
    const std::string text = c.method + " /api/buckets/b HTTP/1.1\r\nHost: h\r\n" + c.fields + "\r\n";
    RequestHead head;
    const ParseResult parsed = parse_request_head(text, ParserLimits{}, head);
    ASSERT_EQ(parsed.status, ParseStatus::kComplete) << c.name;
    EXPECT_STREQ(label(evaluate_preconditions(head, c.current)), label(c.expected)) << c.name;
  }
}

TEST(EvaluatePreconditions, EmptyFieldValueIsAnEmptyList) {
  const std::string text = "PUT /b HTTP/1.1\r\nHost: h\r\nIf-Match:\r\n\r\n";
  RequestHead head;
  ASSERT_EQ(parse_request_head(text, ParserLimits{}, head).status, ParseStatus::kComplete);
  EXPECT_EQ(evaluate_preconditions(head, kPresent), Precondition::kFailed);
}

TEST(EntityTag, ParsesStrongAndWeak) {
  const auto strong = parse_entity_tag("\"abc\"");
  ASSERT_TRUE(strong);
  EXPECT_FALSE(strong->weak);
  EXPECT_EQ(strong->opaque, "\"abc\"");
  const auto weak = parse_entity_tag("W/\"abc\"");
  ASSERT_TRUE(weak);
  EXPECT_TRUE(weak->weak);
  EXPECT_EQ(weak->opaque, "\"abc\"");
  EXPECT_TRUE(weak_match(*strong, *weak));
  EXPECT_FALSE(strong_match(*strong, *weak));
  EXPECT_TRUE(strong_match(*strong, *strong));
  EXPECT_FALSE(strong_match(*weak, *weak));
}

TEST(EntityTag, RefusesWhatIsNotOneTag) {
  for (const std::string_view bad : {"", "abc", "\"", "\"abc", "abc\"", "W/", "W/abc", "w/\"a\"", "\"a\" ", " \"a\"",
                                     "\"a\"\"b\"", "\"a\tb\"", "\"a\x7f\"", "\"a\x01\"", "*"}) {
    EXPECT_FALSE(parse_entity_tag(bad)) << bad;
  }
  EXPECT_EQ(entity_tag_length("\"ab\", \"c\""), 4u);
  EXPECT_EQ(entity_tag_length("W/\"ab\"x"), 6u);
  EXPECT_EQ(entity_tag_length("W/ab"), 0u);
}

TEST(EntityTag, EveryEtagcByte) {
  for (int c = 0; c < 256; ++c) {
    const char byte = static_cast<char>(c);
    const std::string tag = std::string("\"") + byte + "\"";
    const bool etagc = c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80;
    EXPECT_EQ(parse_entity_tag(tag).has_value(), etagc) << c;
  }
}

// Long tags, judged sixteen bytes at a time where the machine can: every byte at every position of the
// blocks and of the tail after them.
TEST(EntityTag, EveryEtagcByteAnywhereInALongTag) {
  constexpr std::size_t kOpaqueBytes = 40;
  for (std::size_t position = 0; position < kOpaqueBytes; ++position) {
    for (int c = 0; c < 256; ++c) {
      std::string tag = "\"" + std::string(kOpaqueBytes, 'a') + "\"";
      tag[1 + position] = static_cast<char>(c);
      const bool etagc = c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80;
      const auto parsed = parse_entity_tag(tag);
      ASSERT_EQ(parsed.has_value(), etagc) << position << " " << c;
      if (etagc) {
        EXPECT_EQ(parsed->opaque, tag);
      }
      // A quote ends the tag there.
      EXPECT_EQ(entity_tag_length(tag), c == '"' ? position + 2 : (etagc ? tag.size() : 0)) << position << " " << c;
    }
  }
  EXPECT_FALSE(parse_entity_tag("\"" + std::string(kOpaqueBytes, 'a')));
  EXPECT_FALSE(parse_entity_tag("W/\"" + std::string(kOpaqueBytes, 'a')));
}

TEST(FormatEtag, SixteenLowerHexDigitsInQuotes) {
  char out[kEtagBytes];
  EXPECT_EQ(format_etag(0x0123456789abcdefULL, out), "\"0123456789abcdef\"");
  EXPECT_EQ(format_etag(0, out), "\"0000000000000000\"");
  EXPECT_EQ(format_etag(~std::uint64_t{0}, out), "\"ffffffffffffffff\"");
  const auto tag = parse_entity_tag(format_etag(42, out));
  ASSERT_TRUE(tag);
  EXPECT_FALSE(tag->weak);
  EXPECT_EQ(tag->opaque, "\"000000000000002a\"");
}

TEST(FormatEtag, EveryDigitInEveryPosition) {
  char out[kEtagBytes];
  for (int position = 0; position < 16; ++position) {
    for (std::uint64_t digit = 0; digit < 16; ++digit) {
      std::string expected = "\"0000000000000000\"";
      expected[static_cast<std::size_t>(16 - position)] = "0123456789abcdef"[digit];
      EXPECT_EQ(format_etag(digit << (4 * position), out), expected);
    }
  }
  EXPECT_EQ(format_etag(0xfedcba9876543210ULL, out), "\"fedcba9876543210\"");
  EXPECT_EQ(format_etag(0x9a9a9a9a9a9a9a9aULL, out), "\"9a9a9a9a9a9a9a9a\"");
}

}  // namespace
}  // namespace http
