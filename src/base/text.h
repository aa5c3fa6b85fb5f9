#pragma once
// Small ASCII text helpers shared by the protocol, configuration and metrics code. Locale-free and
// allocation-free: HTTP, cgroup files and environment variables are ASCII by definition.
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

namespace base {

inline constexpr char kLowerHexDigits[] = "0123456789abcdef";

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
// Optional whitespace in HTTP (RFC 9110 5.6.3): space and horizontal tab.
constexpr bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

constexpr char to_lower_ascii(char c) noexcept {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// Value of one hexadecimal digit (either case), or -1.
constexpr int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// tchar (RFC 9110 5.6.2): the characters of a token such as a method or a field name.
constexpr bool is_token_char(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '.':
    case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

constexpr bool equals_ignore_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (to_lower_ascii(a[i]) != to_lower_ascii(b[i])) return false;
  }
  return true;
}

// Without leading and trailing spaces and tabs.
constexpr std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// Without leading and trailing spaces, tabs, CRs and LFs (file contents, environment values).
constexpr std::string_view trim_whitespace(std::string_view s) noexcept {
  constexpr std::string_view kWhitespace = " \t\r\n";
  const std::size_t first = s.find_first_not_of(kWhitespace);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kWhitespace) - first + 1);
}

// The decimal number at the start of `text` and what follows it; nullopt without a leading digit or when
// the number does not fit in 64 bits. No sign, no whitespace.
constexpr std::optional<std::pair<std::uint64_t, std::string_view>> leading_unsigned(std::string_view text) noexcept {
  std::size_t i = 0;
  std::uint64_t n = 0;
  while (i < text.size() && is_digit(text[i])) {
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (n > (UINT64_MAX - digit) / 10) return std::nullopt;
    n = n * 10 + digit;
    ++i;
  }
  if (i == 0) return std::nullopt;
  return std::pair{n, text.substr(i)};
}

// 1*DIGIT and nothing else, within 64 bits.
constexpr std::optional<std::uint64_t> parse_unsigned(std::string_view text) noexcept {
  const auto parsed = leading_unsigned(text);
  if (!parsed || !parsed->second.empty()) return std::nullopt;
  return parsed->first;
}

}  // namespace base
