#include "http/http_date.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>

#include "base/text.h"
#include "base/utc_time.h"

namespace http {
namespace {

constexpr std::int64_t kFirstFormattable = -62167219200;  // 0000-01-01 00:00:00 UTC
constexpr std::int64_t kLastFormattable = 253402300799;   // 9999-12-31 23:59:59 UTC

constexpr std::string_view kLongDayNames[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                               "Thursday", "Friday", "Saturday"};

struct CivilTime {
  int year = 0;
  unsigned month = 0;
  unsigned day = 0;
  unsigned hour = 0;
  unsigned minute = 0;
  unsigned second = 0;
};

// A cursor over the text: each step consumes what it matched and answers whether it did.
class Reader {
 public:
  explicit Reader(std::string_view text) noexcept : rest_(text) {}

  bool done() const noexcept { return rest_.empty(); }

  bool literal(std::string_view expected) noexcept {
    if (rest_.substr(0, expected.size()) != expected) return false;
    rest_.remove_prefix(expected.size());
    return true;
  }

  bool digits(std::size_t count, unsigned& value) noexcept {
    if (rest_.size() < count) return false;
    value = 0;
    for (std::size_t i = 0; i < count; ++i) {
      if (!base::is_digit(rest_[i])) return false;
      value = value * 10 + static_cast<unsigned>(rest_[i] - '0');
    }
    rest_.remove_prefix(count);
    return true;
  }

  bool month(unsigned& value) noexcept {
    for (unsigned m = 1; m <= 12; ++m) {
      if (literal(base::month_abbreviation(m))) {
        value = m;
        return true;
      }
    }
    return false;
  }

  bool day_name() noexcept {
    for (unsigned d = 0; d < 7; ++d) {
      if (literal(base::weekday_abbreviation(d))) return true;
    }
    return false;
  }

  bool long_day_name() noexcept {
    for (const std::string_view name : kLongDayNames) {
      if (literal(name)) return true;
    }
    return false;
  }

  // time-of-day = hour ":" minute ":" second
  bool time_of_day(CivilTime& t) noexcept {
    return digits(2, t.hour) && literal(":") && digits(2, t.minute) && literal(":") && digits(2, t.second);
  }

 private:
  std::string_view rest_;
};

// IMF-fixdate = day-name "," SP day SP month SP year SP time-of-day SP "GMT"
bool read_imf_fixdate(std::string_view text, CivilTime& t) noexcept {
  Reader r(text);
  unsigned year = 0;
  const bool ok = r.day_name() && r.literal(", ") && r.digits(2, t.day) && r.literal(" ") && r.month(t.month) &&
                  r.literal(" ") && r.digits(4, year) && r.literal(" ") && r.time_of_day(t) && r.literal(" GMT") &&
                  r.done();
  t.year = static_cast<int>(year);
  return ok;
}

// rfc850-date = day-name-l "," SP day "-" month "-" 2DIGIT SP time-of-day SP "GMT"; the year's two digits
// go to `two_digit_year`.
bool read_rfc850_date(std::string_view text, CivilTime& t, unsigned& two_digit_year) noexcept {
  Reader r(text);
  return r.long_day_name() && r.literal(", ") && r.digits(2, t.day) && r.literal("-") && r.month(t.month) &&
         r.literal("-") && r.digits(2, two_digit_year) && r.literal(" ") && r.time_of_day(t) && r.literal(" GMT") &&
         r.done();
}

// asctime-date = day-name SP month SP ( 2DIGIT / ( SP DIGIT ) ) SP time-of-day SP year
bool read_asctime_date(std::string_view text, CivilTime& t) noexcept {
  Reader r(text);
  unsigned year = 0;
  const bool ok = r.day_name() && r.literal(" ") && r.month(t.month) && r.literal(" ") &&
                  (r.digits(2, t.day) || (r.literal(" ") && r.digits(1, t.day))) && r.literal(" ") &&
                  r.time_of_day(t) && r.literal(" ") && r.digits(4, year) && r.done();
  t.year = static_cast<int>(year);
  return ok;
}

// One number that orders calendar times as their fields do, year first.
constexpr std::int64_t calendar_key(std::int64_t year, unsigned month, unsigned day, unsigned hour, unsigned minute,
                                    unsigned second) noexcept {
  return ((((year * 100 + month) * 100 + day) * 100 + hour) * 100 + minute) * 100 + second;
}

// The year of `now`'s century ending in `two_digits`, or of the century before when that would put `t` more
// than 50 years after `now` (the most recent year in the past with those digits, as RFC 9110 5.6.7 says).
int resolve_two_digit_year(unsigned two_digits, const CivilTime& t, std::int64_t now) noexcept {
  const auto clock = static_cast<std::time_t>(std::clamp(now, kFirstFormattable, kLastFormattable));
  const base::UtcTime n = base::utc_time(clock);
  const int year = n.year - n.year % 100 + static_cast<int>(two_digits);
  const bool too_late = calendar_key(year, t.month, t.day, t.hour, t.minute, t.second) >
                        calendar_key(std::int64_t{n.year} + 50, n.month, n.day, n.hour, n.minute, n.second);
  return too_late ? year - 100 : year;
}

std::optional<std::int64_t> to_unix_seconds(const CivilTime& t) noexcept {
  using namespace std::chrono;
  if (t.hour > 23 || t.minute > 59 || t.second > 60) return std::nullopt;
  const year_month_day date{year{t.year}, month{t.month}, day{t.day}};
  if (!date.ok()) return std::nullopt;
  const std::int64_t days_since_epoch = sys_days{date}.time_since_epoch().count();
  return days_since_epoch * 86400 + std::int64_t{t.hour} * 3600 + std::int64_t{t.minute} * 60 + t.second;
}

std::int64_t clock_now() noexcept {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

// `now` is asked for only when the text is an RFC 850 date.
template <typename Now>
std::optional<std::int64_t> parse(std::string_view text, Now&& now) noexcept {
  CivilTime t;
  if (read_imf_fixdate(text, t) || read_asctime_date(text, t)) return to_unix_seconds(t);
  unsigned two_digit_year = 0;
  if (!read_rfc850_date(text, t, two_digit_year)) return std::nullopt;
  // 29 February exists in some of the candidate years only, so the year is resolved before the date is checked.
  t.year = resolve_two_digit_year(two_digit_year, t, now());
  return to_unix_seconds(t);
}

}  // namespace

std::string_view format_http_date(std::int64_t unix_seconds, char* out) noexcept {
  const base::UtcTime t =
      base::utc_time(static_cast<std::time_t>(std::clamp(unix_seconds, kFirstFormattable, kLastFormattable)));
  char* p = out;
  const auto put = [&p](std::string_view text) noexcept {
    std::memcpy(p, text.data(), text.size());
    p += text.size();
  };
  const auto put_digits = [&p](unsigned value, int count) noexcept {
    for (int i = count - 1; i >= 0; --i) {
      p[i] = static_cast<char>('0' + value % 10);
      value /= 10;
    }
    p += count;
  };
  put(base::weekday_abbreviation(t.weekday));
  put(", ");
  put_digits(t.day, 2);
  put(" ");
  put(base::month_abbreviation(t.month));
  put(" ");
  put_digits(static_cast<unsigned>(t.year), 4);
  put(" ");
  put_digits(t.hour, 2);
  put(":");
  put_digits(t.minute, 2);
  put(":");
  put_digits(t.second, 2);
  put(" GMT");
  return {out, static_cast<std::size_t>(p - out)};
}

std::optional<std::int64_t> parse_http_date(std::string_view text) noexcept { return parse(text, clock_now); }

std::optional<std::int64_t> parse_http_date(std::string_view text, std::int64_t now) noexcept {
  return parse(text, [now]() noexcept { return now; });
}

}  // namespace http
