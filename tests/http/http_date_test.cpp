// HTTP-date (RFC 9110 5.6.7): the three formats, impossible dates, leap years, the RFC 850 century window,
// and format_http_date against the C library.
#include "http/http_date.h"

#include <gtest/gtest.h>

#include <ctime>
#include <string>

namespace http {
namespace {

constexpr std::int64_t kRfcExample = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
constexpr std::int64_t k2025 = 1735689600;       // Wed, 01 Jan 2025 00:00:00 GMT

std::string formatted(std::int64_t t) {
  char out[kHttpDateBytes];
  return std::string(format_http_date(t, out));
}

TEST(ParseHttpDate, TheThreeFormatsOfTheRfcExample) {
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), kRfcExample);
  EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", k2025), kRfcExample);
  EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), kRfcExample);
  EXPECT_EQ(parse_http_date("Sun Nov 06 08:49:37 1994"), kRfcExample);  // date3 allows 2DIGIT too
  // The overload that reads the clock agrees while 1994 is in its window (until 2044).
  EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), kRfcExample);
}

TEST(ParseHttpDate, EpochAndExtremes) {
  EXPECT_EQ(parse_http_date("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
  EXPECT_EQ(parse_http_date("Wed, 31 Dec 1969 23:59:59 GMT"), -1);
  EXPECT_EQ(parse_http_date("Sat, 01 Jan 0000 00:00:00 GMT"), -62167219200);
  EXPECT_EQ(parse_http_date("Fri, 31 Dec 9999 23:59:59 GMT"), 253402300799);
  EXPECT_EQ(parse_http_date("Tue, 19 Jan 2038 03:14:08 GMT"), 2147483648);
}

TEST(ParseHttpDate, EveryNameOfEveryFormat) {
  const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const char* const kDays[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  const char* const kLongDays[] = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
  for (int m = 0; m < 12; ++m) {
    const std::string month = kMonths[m];
    const auto imf = parse_http_date("Mon, 01 " + month + " 2024 00:00:00 GMT");
    ASSERT_TRUE(imf) << month;
    EXPECT_EQ(formatted(*imf).substr(8, 3), month);
    EXPECT_EQ(parse_http_date("Monday, 01-" + month + "-24 00:00:00 GMT", k2025), imf);
    EXPECT_EQ(parse_http_date("Mon " + month + "  1 00:00:00 2024"), imf);
  }
  for (int d = 0; d < 7; ++d) {
    // The weekday name must be one, but need not be the date's.
    EXPECT_EQ(parse_http_date(std::string(kDays[d]) + ", 06 Nov 1994 08:49:37 GMT"), kRfcExample) << kDays[d];
    EXPECT_EQ(parse_http_date(std::string(kLongDays[d]) + ", 06-Nov-94 08:49:37 GMT", k2025), kRfcExample);
    EXPECT_EQ(parse_http_date(std::string(kDays[d]) + " Nov  6 08:49:37 1994"), kRfcExample);
  }
}

TEST(ParseHttpDate, LeapYears) {
  EXPECT_TRUE(parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT"));
  EXPECT_TRUE(parse_http_date("Tue, 29 Feb 2000 00:00:00 GMT"));  // divisible by 400
  EXPECT_FALSE(parse_http_date("Wed, 29 Feb 2023 00:00:00 GMT"));
  EXPECT_FALSE(parse_http_date("Thu, 29 Feb 1900 00:00:00 GMT"));  // divisible by 100, not 400
  EXPECT_FALSE(parse_http_date("Mon, 29 Feb 2100 00:00:00 GMT"));
  EXPECT_EQ(*parse_http_date("Fri, 01 Mar 2024 00:00:00 GMT") - *parse_http_date("Thu, 29 Feb 2024 00:00:00 GMT"),
            86400);
  EXPECT_TRUE(parse_http_date("Thu Feb 29 00:00:00 2024"));
  EXPECT_FALSE(parse_http_date("Wed Feb 29 00:00:00 2023"));
  EXPECT_TRUE(parse_http_date("Thursday, 29-Feb-24 00:00:00 GMT", k2025));
  EXPECT_FALSE(parse_http_date("Wednesday, 29-Feb-23 00:00:00 GMT", k2025));
}

TEST(ParseHttpDate, ImpossibleDaysAndTimes) {
  for (const char* bad : {
           "Sun, 00 Nov 1994 08:49:37 GMT", "Sun, 31 Nov 1994 08:49:37 GMT", "Sun, 31 Apr 1994 08:49:37 GMT",
           "Sun, 32 Jan 1994 08:49:37 GMT", "Sun, 30 Feb 1994 08:49:37 GMT", "Sun, 06 Nov 1994 24:00:00 GMT",
           "Sun, 06 Nov 1994 08:60:37 GMT", "Sun, 06 Nov 1994 08:49:61 GMT", "Sunday, 31-Jun-94 08:49:37 GMT",
           "Sun Jun 31 08:49:37 1994",      "Sun Nov  0 08:49:37 1994",
       }) {
    EXPECT_FALSE(parse_http_date(bad, k2025)) << bad;
  }
  // Second 60 is a leap second: the first second of the next minute.
  EXPECT_EQ(parse_http_date("Sat, 31 Dec 2016 23:59:60 GMT"), parse_http_date("Sun, 01 Jan 2017 00:00:00 GMT"));
}

TEST(ParseHttpDate, RefusesAnythingOffTheGrammar) {
  for (const char* bad : {
           "",
           "Sun, 06 Nov 1994 08:49:37",        // no zone
           "Sun, 06 Nov 1994 08:49:37 UTC",    // not GMT
           "Sun, 06 Nov 1994 08:49:37 gmt",    // case-sensitive
           "Sun, 06 Nov 1994 08:49:37 GMT ",   // trailing space
           " Sun, 06 Nov 1994 08:49:37 GMT",   // leading space
           "Sun, 06 Nov 1994 08:49:37 GMTx",   // trailing byte
           "sun, 06 Nov 1994 08:49:37 GMT",    // day name case
           "Sun, 06 nov 1994 08:49:37 GMT",    // month case
           "Sun, 06 NOV 1994 08:49:37 GMT",
           "Sun, 06 Foo 1994 08:49:37 GMT",    // no such month
           "Sux, 06 Nov 1994 08:49:37 GMT",    // no such day
           "Sun, 6 Nov 1994 08:49:37 GMT",     // one-digit day
           "Sun, 06 Nov 94 08:49:37 GMT",      // two-digit year
           "Sun, 06 Nov 19945 08:49:37 GMT",
           "Sun,  06 Nov 1994 08:49:37 GMT",   // two spaces
           "Sun,06 Nov 1994 08:49:37 GMT",
           "Sun, 06 Nov 1994 8:49:37 GMT",
           "Sun, 06 Nov 1994 08:49 GMT",
           "Sun, 06 Nov 1994 08.49.37 GMT",
           "Sun, 06-Nov-1994 08:49:37 GMT",    // RFC 850 separators with a short day name
           "Sun, 06 Nov 1994 08:49:37 +0000",
           "06 Nov 1994 08:49:37 GMT",         // no day name
           "Sunday, 06-Nov-94 08:49:37",       // RFC 850 without GMT
           "Sunday, 06-Nov-1994 08:49:37 GMT", // four-digit year
           "Sunday, 06 Nov 94 08:49:37 GMT",
           "Sunday 06-Nov-94 08:49:37 GMT",
           "Sund, 06-Nov-94 08:49:37 GMT",
           "Sun Nov 6 08:49:37 1994",          // asctime needs SP DIGIT or 2DIGIT
           "Sun Nov  6 08:49:37 94",
           "Sun Nov  6 08:49:37 1994 GMT",
           "Sun, Nov  6 08:49:37 1994",
           "Sun Nov   6 08:49:37 1994",
           "Sun, 06 Nov 1994 08:49:37 GMT, Mon, 07 Nov 1994 08:49:37 GMT",  // a list
           "1994-11-06T08:49:37Z",
           "784111777",
       }) {
    EXPECT_FALSE(parse_http_date(bad, k2025)) << '"' << bad << '"';
  }
  EXPECT_FALSE(parse_http_date(std::string_view("Sun, 06 Nov 1994 08:49:37 GMT\0", 30)));
}

TEST(ParseHttpDate, Rfc850YearIsNotMoreThanFiftyYearsAhead) {
  // Read on 2025-01-01 00:00:00: up to 2075-01-01 00:00:00 is this century, later is the last one.
  const auto read_in_2025 = [](const char* rfc850) { return parse_http_date(rfc850, k2025); };
  EXPECT_EQ(read_in_2025("Thursday, 01-Jan-70 00:00:00 GMT"), parse_http_date("Thu, 01 Jan 2070 00:00:00 GMT"));
  EXPECT_EQ(read_in_2025("Tuesday, 01-Jan-75 00:00:00 GMT"), parse_http_date("Tue, 01 Jan 2075 00:00:00 GMT"));
  EXPECT_EQ(read_in_2025("Tuesday, 01-Jan-75 00:00:01 GMT"), parse_http_date("Wed, 01 Jan 1975 00:00:01 GMT"));
  EXPECT_EQ(read_in_2025("Friday, 31-Dec-99 23:59:59 GMT"), parse_http_date("Fri, 31 Dec 1999 23:59:59 GMT"));
  EXPECT_EQ(read_in_2025("Saturday, 01-Jan-00 00:00:00 GMT"), parse_http_date("Sat, 01 Jan 2000 00:00:00 GMT"));
  EXPECT_EQ(parse_http_date("Wednesday, 01-Jan-25 00:00:00 GMT", k2025), k2025);
  // Read in 2090, "10" is 2010: this century, in the past.
  const std::int64_t k2090 = *parse_http_date("Sun, 01 Jan 2090 00:00:00 GMT");
  EXPECT_EQ(parse_http_date("Friday, 01-Jan-10 00:00:00 GMT", k2090), parse_http_date("Fri, 01 Jan 2010 00:00:00 GMT"));
  EXPECT_EQ(parse_http_date("Friday, 01-Jan-99 00:00:00 GMT", k2090), parse_http_date("Fri, 01 Jan 2099 00:00:00 GMT"));
  // 29 February of a two-digit year is checked in the century it lands in: 2000 was a leap year, 1900 not.
  const std::int64_t k2049 = *parse_http_date("Fri, 01 Jan 2049 00:00:00 GMT");
  EXPECT_TRUE(parse_http_date("Tuesday, 29-Feb-00 00:00:00 GMT", k2049));
  const std::int64_t k1949 = *parse_http_date("Sat, 01 Jan 1949 00:00:00 GMT");
  EXPECT_FALSE(parse_http_date("Thursday, 29-Feb-00 00:00:00 GMT", k1949));
}

TEST(FormatHttpDate, ImfFixdate) {
  EXPECT_EQ(formatted(kRfcExample), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(formatted(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(formatted(-1), "Wed, 31 Dec 1969 23:59:59 GMT");
  EXPECT_EQ(formatted(253402300799), "Fri, 31 Dec 9999 23:59:59 GMT");
  EXPECT_EQ(formatted(-62167219200), "Sat, 01 Jan 0000 00:00:00 GMT");
  EXPECT_EQ(formatted(-62135596800), "Mon, 01 Jan 0001 00:00:00 GMT");  // four digits, zero-padded
  // Outside four-digit years: the nearest one that can be written.
  EXPECT_EQ(formatted(253402300800), "Fri, 31 Dec 9999 23:59:59 GMT");
  EXPECT_EQ(formatted(INT64_MAX), "Fri, 31 Dec 9999 23:59:59 GMT");
  EXPECT_EQ(formatted(INT64_MIN), "Sat, 01 Jan 0000 00:00:00 GMT");
  EXPECT_EQ(formatted(0).size(), kHttpDateBytes);
}

// What is formatted parses back to the same second, and agrees with the C library, over four centuries
// sampled at a stride that lands on every weekday, month, hour and second.
TEST(FormatHttpDate, RoundTripsAndAgreesWithGmtime) {
  constexpr std::int64_t kStride = 86400 * 5 + 3600 * 7 + 60 * 13 + 17;
  for (std::int64_t t = -2208988800; t < std::int64_t{10413792000}; t += kStride) {  // 1900 to 2300
    const std::string text = formatted(t);
    ASSERT_EQ(parse_http_date(text), t) << text;
    const auto now = static_cast<std::time_t>(t);
    std::tm parts{};
    ASSERT_NE(::gmtime_r(&now, &parts), nullptr);
    char expected[40];
    ASSERT_GT(std::strftime(expected, sizeof expected, "%a, %d %b %Y %H:%M:%S GMT", &parts), 0u);
    ASSERT_EQ(text, expected) << t;
    // The same instant in asctime form.
    ASSERT_GT(std::strftime(expected, sizeof expected, "%a %b %e %H:%M:%S %Y", &parts), 0u);
    ASSERT_EQ(parse_http_date(expected), t) << expected;
  }
}

}  // namespace
}  // namespace http
