#include "base/utc_time.h"

#include <chrono>

namespace base {

UtcTime utc_time(std::time_t unix_seconds) noexcept {
  using namespace std::chrono;
  const sys_seconds time{seconds{unix_seconds}};
  const sys_days day = floor<days>(time);
  const year_month_day date{day};
  const hh_mm_ss clock{time - day};
  UtcTime out;
  out.year = static_cast<int>(date.year());
  out.month = static_cast<unsigned>(date.month());
  out.day = static_cast<unsigned>(date.day());
  out.weekday = weekday{day}.c_encoding();
  out.hour = static_cast<unsigned>(clock.hours().count());
  out.minute = static_cast<unsigned>(clock.minutes().count());
  out.second = static_cast<unsigned>(clock.seconds().count());
  return out;
}

std::string_view weekday_abbreviation(unsigned weekday) noexcept {
  static constexpr std::string_view kDays[7] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  return kDays[weekday % 7];
}

std::string_view month_abbreviation(unsigned month) noexcept {
  static constexpr std::string_view kMonths[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  return kMonths[(month + 11) % 12];
}

}  // namespace base
