#pragma once
// UTC calendar fields of a Unix time, by calendar arithmetic alone: gmtime_r would load the time zone
// database on first use, and strftime would consult the locale, while HTTP dates and log timestamps are
// fixed-format UTC.
#include <cstdint>
#include <ctime>
#include <string_view>

namespace base {

struct UtcTime {
  int year = 1970;
  unsigned month = 1;    // 1..12
  unsigned day = 1;      // 1..31
  unsigned weekday = 4;  // 0 = Sunday
  unsigned hour = 0;
  unsigned minute = 0;
  unsigned second = 0;
};

UtcTime utc_time(std::time_t unix_seconds) noexcept;

// "Sun".."Sat" and "Jan".."Dec", as HTTP dates spell them.
std::string_view weekday_abbreviation(unsigned weekday) noexcept;
std::string_view month_abbreviation(unsigned month) noexcept;

}  // namespace base
