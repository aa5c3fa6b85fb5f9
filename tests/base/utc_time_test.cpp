#include "base/utc_time.h"

#include <gtest/gtest.h>

#include <ctime>

namespace base {
namespace {

// Against the C library across 1970-2200, one sample every 7 days and 13 hours so every weekday and hour
// is visited, plus leap days.
TEST(UtcTime, MatchesGmtime) {
  for (std::time_t t = 0; t < 7258118400; t += 7 * 86400 + 13 * 3600 + 59) {
    std::tm expected{};
    ASSERT_NE(gmtime_r(&t, &expected), nullptr);
    const UtcTime got = utc_time(t);
    ASSERT_EQ(got.year, expected.tm_year + 1900) << t;
    ASSERT_EQ(got.month, static_cast<unsigned>(expected.tm_mon + 1)) << t;
    ASSERT_EQ(got.day, static_cast<unsigned>(expected.tm_mday)) << t;
    ASSERT_EQ(got.weekday, static_cast<unsigned>(expected.tm_wday)) << t;
    ASSERT_EQ(got.hour, static_cast<unsigned>(expected.tm_hour)) << t;
    ASSERT_EQ(got.minute, static_cast<unsigned>(expected.tm_min)) << t;
    ASSERT_EQ(got.second, static_cast<unsigned>(expected.tm_sec)) << t;
  }
}

TEST(UtcTime, LeapDays) {
  const UtcTime leap = utc_time(951782400);  // 2000-02-29 00:00:00
  EXPECT_EQ(leap.year, 2000);
  EXPECT_EQ(leap.month, 2u);
  EXPECT_EQ(leap.day, 29u);
  EXPECT_EQ(leap.weekday, 2u);
  const UtcTime after = utc_time(4107542400);  // 2100-03-01: 2100 is not a leap year
  EXPECT_EQ(after.month, 3u);
  EXPECT_EQ(after.day, 1u);
}

TEST(UtcTime, Abbreviations) {
  EXPECT_EQ(weekday_abbreviation(0), "Sun");
  EXPECT_EQ(weekday_abbreviation(6), "Sat");
  EXPECT_EQ(month_abbreviation(1), "Jan");
  EXPECT_EQ(month_abbreviation(12), "Dec");
}

}  // namespace
}  // namespace base
