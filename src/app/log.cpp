#include "app/log.h"

#include <charconv>
#include <cmath>
#include <ctime>
#include <type_traits>

#include "base/text.h"
#include "base/utc_time.h"

namespace app {
namespace {

std::string_view level_name(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "unknown";
}

void append_digits(std::string& out, long value, int width) {
  char digits[24];
  int count = 0;
  do {
    digits[count++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value > 0 && count < 20);
  for (int pad = count; pad < width; ++pad) out.push_back('0');
  while (count > 0) out.push_back(digits[--count]);
}

// RFC 3339 in UTC with milliseconds, e.g. 2026-11-24T01:42:33.123Z; built by hand so no locale applies.
void append_timestamp(std::string& out) {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  const base::UtcTime t = base::utc_time(now.tv_sec);
  append_digits(out, t.year, 4);
  out.push_back('-');
  append_digits(out, t.month, 2);
  out.push_back('-');
  append_digits(out, t.day, 2);
  out.push_back('T');
  append_digits(out, t.hour, 2);
  out.push_back(':');
  append_digits(out, t.minute, 2);
  out.push_back(':');
  append_digits(out, t.second, 2);
  out.push_back('.');
  append_digits(out, now.tv_nsec / 1000000, 3);
  out.push_back('Z');
}

template <typename Number>
void append_number(std::string& out, Number value) {
  if constexpr (std::is_floating_point_v<Number>) {
    // JSON has no NaN or infinity.
    if (!std::isfinite(value)) {
      out += "null";
      return;
    }
  }
  char buffer[32];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  if (error == std::errc{}) out.append(buffer, end);
  else out += "null";
}

void append_value(std::string& out, const LogField& field) {
  std::visit(
      [&](auto value) {
        using Type = decltype(value);
        if constexpr (std::is_same_v<Type, std::string_view>) {
          if (field.raw_json) {
            // An empty raw value would leave the key without a value and break the whole line.
            out += value.empty() ? std::string_view("null") : value;
          } else {
            out.push_back('"');
            append_json_escaped(out, value);
            out.push_back('"');
          }
        } else if constexpr (std::is_same_v<Type, bool>) {
          out += value ? "true" : "false";
        } else {
          append_number(out, value);
        }
      },
      field.value);
}

// Length of the well-formed UTF-8 sequence starting at text[i], or 0 when the byte there does not start
// one (stray continuation, overlong form, surrogate, beyond U+10FFFF, or truncated).
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) noexcept {
  const auto byte = [&](std::size_t at) { return static_cast<unsigned char>(text[at]); };
  const unsigned char lead = byte(i);
  std::size_t length = 0;
  unsigned char second_min = 0x80;
  unsigned char second_max = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) second_min = 0xa0;  // overlong
    if (lead == 0xed) second_max = 0x9f;  // UTF-16 surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) second_min = 0x90;  // overlong
    if (lead == 0xf4) second_max = 0x8f;  // beyond U+10FFFF
  } else {
    return 0;
  }
  if (text.size() - i < length) return 0;
  if (byte(i + 1) < second_min || byte(i + 1) > second_max) return 0;
  for (std::size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  }
  return length;
}

}  // namespace

void append_json_escaped(std::string& out, std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const std::size_t length = utf8_sequence_length(text, i);
      if (length == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(text.substr(i, length));
        i += length;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(base::kLowerHexDigits[c >> 4]);
          out.push_back(base::kLowerHexDigits[c & 0xf]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
    ++i;
  }
}

void append_log_line(std::string& out, LogLevel level, std::string_view event,
                     std::initializer_list<LogField> fields) {
  out.reserve(out.size() + 128 + event.size() + fields.size() * 32);
  out += "{\"ts\":\"";
  append_timestamp(out);
  out += "\",\"level\":\"";
  out += level_name(level);
  out += "\",\"event\":\"";
  append_json_escaped(out, event);
  out.push_back('"');
  for (const LogField& field : fields) {
    out += ",\"";
    append_json_escaped(out, field.key);
    out += "\":";
    append_value(out, field);
  }
  out += "}\n";
}

void Logger::log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields) const {
  if (!enabled(level)) return;
  std::string line;
  try {
    append_log_line(line, level, event, fields);
  } catch (...) {
    // Out of memory: a lost (and counted) log line is better than an exception thrown into the event loop.
    queue_.count_dropped();
    return;
  }
  queue_.push(line);
}

}  // namespace app
