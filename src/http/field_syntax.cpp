#include "http/field_syntax.h"

#include <array>
#include <limits>

namespace http::field_syntax {
namespace {

using base::is_digit;
using base::is_ows;
using base::is_token_char;

constexpr bool is_token(char c) noexcept { return is_token_char(c); }

// What each byte can be in a reg-name (RFC 3986 3.2.2): unreserved / sub-delims, the start of a
// pct-encoding, or the ':' that ends it before a port. A table, because every request's Host goes through it.
enum RegNameByte : std::uint8_t { kInvalid, kRegNameChar, kPercent, kColon };

constexpr std::array<std::uint8_t, 256> make_reg_name_bytes() noexcept {
  std::array<std::uint8_t, 256> bytes{};
  for (unsigned c = 0; c < 256; ++c) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (alnum || std::string_view("-._~!$&'()*+,;=").find(static_cast<char>(c)) != std::string_view::npos) {
      bytes[c] = kRegNameChar;
    }
  }
  bytes['%'] = kPercent;
  bytes[':'] = kColon;
  return bytes;
}

constexpr std::array<std::uint8_t, 256> kRegNameBytes = make_reg_name_bytes();

// The length of the reg-name at the start of `text`: it ends at ':' or at the end; npos when a byte in it
// is neither a reg-name character nor part of a complete pct-encoding.
std::size_t reg_name_length(std::string_view text) noexcept {
  const char* const begin = text.data();
  const char* const end = begin + text.size();
  const char* p = begin;
  while (p < end) {
    const std::uint8_t kind = kRegNameBytes[static_cast<unsigned char>(*p)];
    if (kind == kRegNameChar) {
      ++p;
    } else if (kind == kColon) {
      break;
    } else if (kind == kPercent && end - p > 2 && base::hex_value(p[1]) >= 0 && base::hex_value(p[2]) >= 0) {
      p += 3;
    } else {
      return std::string_view::npos;
    }
  }
  return static_cast<std::size_t>(p - begin);
}

// h16 = 1*4HEXDIG
bool is_h16(std::string_view text) noexcept {
  if (text.empty() || text.size() > 4) return false;
  for (const char c : text) {
    if (base::hex_value(c) < 0) return false;
  }
  return true;
}

// dec-octet: 0-255 without leading zeros.
bool is_dec_octet(std::string_view text) noexcept {
  if (text.empty() || text.size() > 3 || (text.size() > 1 && text[0] == '0')) return false;
  unsigned value = 0;
  for (const char c : text) {
    if (!is_digit(c)) return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value <= 255;
}

bool is_ipv4_address(std::string_view text) noexcept {
  for (int octet = 0; octet < 4; ++octet) {
    const std::size_t dot = text.find('.');
    if ((octet < 3) == (dot == std::string_view::npos)) return false;
    if (!is_dec_octet(text.substr(0, dot))) return false;
    text.remove_prefix(octet < 3 ? dot + 1 : text.size());
  }
  return true;
}

// Counts the 16-bit groups of "h16 *( ":" h16 )" (empty text: none); when `ipv4_last`, the last element may
// be an IPv4address, worth two groups. False on an empty element or anything else.
bool count_groups(std::string_view text, bool ipv4_last, unsigned& groups) noexcept {
  groups = 0;
  if (text.empty()) return true;
  for (;;) {
    const std::size_t colon = text.find(':');
    const std::string_view element = text.substr(0, colon);
    if (colon == std::string_view::npos) {
      if (ipv4_last && element.find('.') != std::string_view::npos) {
        groups += 2;
        return is_ipv4_address(element);
      }
      ++groups;
      return is_h16(element);
    }
    if (!is_h16(element)) return false;
    ++groups;
    text.remove_prefix(colon + 1);
  }
}

}  // namespace

bool parse_content_length(std::string_view value, std::uint64_t& length) noexcept {
  bool have_first = false;
  std::uint64_t first = 0;
  return for_each_list_element(value, [&](std::string_view element) noexcept {
    if (element.empty()) return false;
    std::uint64_t n = 0;
    for (const char c : element) {
      if (!is_digit(c)) return false;
      const auto digit = static_cast<std::uint64_t>(c - '0');
      if (n > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return false;
      n = n * 10 + digit;
    }
    if (have_first && n != first) return false;
    have_first = true;
    first = n;
    length = n;
    return true;
  });
}

bool is_transfer_coding(std::string_view element) noexcept {
  std::size_t i = 0;
  const auto token_end = [&](std::size_t from) noexcept {
    while (from < element.size() && is_token(element[from])) ++from;
    return from;
  };
  const auto skip_ows = [&](std::size_t from) noexcept {
    while (from < element.size() && is_ows(element[from])) ++from;
    return from;
  };
  i = token_end(0);
  if (i == 0) return false;
  while (i < element.size()) {
    i = skip_ows(i);
    if (i == element.size() || element[i] != ';') return false;
    i = skip_ows(i + 1);
    const std::size_t name_end = token_end(i);
    if (name_end == i) return false;
    i = skip_ows(name_end);
    if (i == element.size() || element[i] != '=') return false;
    i = skip_ows(i + 1);
    const std::size_t value_length = parameter_value_length(element.substr(i));
    if (value_length == 0) return false;
    i += value_length;
  }
  return true;
}

std::size_t parameter_value_length(std::string_view text) noexcept {
  if (!text.empty() && text.front() == '"') {
    const std::size_t quoted = quoted_string_length(text);
    return quoted == std::string_view::npos ? 0 : quoted;
  }
  std::size_t end = 0;
  while (end < text.size() && is_token(text[end])) ++end;
  return end;
}

std::size_t quoted_string_length(std::string_view text) noexcept {
  if (text.empty() || text.front() != '"') return std::string_view::npos;
  // Control bytes other than HTAB, and DEL, are neither qdtext nor escapable.
  const auto is_text = [](unsigned char c) noexcept { return c == '\t' || (c >= 0x20 && c != 0x7f); };
  for (std::size_t i = 1; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"') return i + 1;
    if (c == '\\') {
      if (++i == text.size() || !is_text(static_cast<unsigned char>(text[i]))) return std::string_view::npos;
    } else if (!is_text(c)) {
      return std::string_view::npos;
    }
  }
  return std::string_view::npos;
}

bool is_ipv6_address(std::string_view text) noexcept {
  const std::size_t elided = text.find("::");
  unsigned groups = 0;
  if (elided == std::string_view::npos) return count_groups(text, true, groups) && groups == 8;
  const std::string_view before = text.substr(0, elided);
  const std::string_view after = text.substr(elided + 2);
  if (after.find("::") != std::string_view::npos) return false;
  unsigned groups_after = 0;
  // "::" stands for at least one group, so at most seven are written.
  return count_groups(before, false, groups) && count_groups(after, true, groups_after) &&
         groups + groups_after <= 7;
}

bool is_valid_host(std::string_view value) noexcept {
  std::string_view port;
  if (!value.empty() && value.front() == '[') {
    const std::size_t close = value.find(']');
    if (close == std::string_view::npos || !is_ipv6_address(value.substr(1, close - 1))) return false;
    const std::string_view rest = value.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
    }
  } else {
    // IPv4address is a reg-name too, so one check covers both.
    const std::size_t host_length = reg_name_length(value);
    if (host_length == std::string_view::npos) return false;
    if (host_length < value.size()) port = value.substr(host_length + 1);
  }
  for (const char c : port) {
    if (!is_digit(c)) return false;
  }
  return true;
}

}  // namespace http::field_syntax
