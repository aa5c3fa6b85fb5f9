#pragma once
// HTTP-date (RFC 9110 5.6.7): the IMF-fixdate a server sends, and the two obsolete formats a recipient must
// still accept (RFC 850 and asctime). By calendar arithmetic alone, like base/utc_time.h: no time zone
// database, no locale, no allocation.
//
// Parsing follows the grammar exactly: names are case-sensitive ("Sun", "Nov", "GMT"), separators are single
// spaces, the day of the month must exist in that month and year, and second 60 (a leap second) is read as
// the first second of the next minute. The weekday name must be one, but is not checked against the date:
// the date is what the sender meant, and nothing in RFC 9110 asks a recipient to refuse a wrong weekday.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace http {

inline constexpr std::size_t kHttpDateBytes = 29;  // "Sun, 06 Nov 1994 08:49:37 GMT"

// Writes the IMF-fixdate of `unix_seconds` into `out` (at least kHttpDateBytes) and returns it. IMF-fixdate
// has four year digits, so times before 0000-01-01 or after 9999-12-31 23:59:59 are written as those.
std::string_view format_http_date(std::int64_t unix_seconds, char* out) noexcept;

// Unix seconds of an HTTP-date in any of its three formats; nullopt when `text` is not one. An RFC 850
// date's two-digit year is read in the current century, or in the one before when that would put the date
// more than 50 years in the future (RFC 9110 5.6.7); only that format reads the clock.
std::optional<std::int64_t> parse_http_date(std::string_view text) noexcept;
// The same, with `now` (Unix seconds) as the clock an RFC 850 year is read against.
std::optional<std::int64_t> parse_http_date(std::string_view text, std::int64_t now) noexcept;

}  // namespace http
