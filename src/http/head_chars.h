#pragma once
// Character classes of the request-head grammar (RFC 9110 5.5, 5.6.2; RFC 9112 3.2) as one table, so each
// scanning loop of the parser costs a load and a test per byte. Internal to the request parser.
#include <array>
#include <cstdint>

#include "base/text.h"

namespace http::head_chars {

inline constexpr std::uint8_t kTokenChar = 1u << 0;       // tchar (RFC 9110 5.6.2)
inline constexpr std::uint8_t kTargetChar = 1u << 1;      // visible ASCII but '?' (starts the query) and '#' (refused)
inline constexpr std::uint8_t kFieldValueChar = 1u << 2;  // VCHAR, obs-text, SP, HTAB (RFC 9110 5.5)

constexpr std::array<std::uint8_t, 256> make_char_classes() noexcept {
  std::array<std::uint8_t, 256> classes{};
  for (unsigned c = 0; c < 256; ++c) {
    const bool visible = c >= 0x21 && c <= 0x7e;
    std::uint8_t bits = 0;
    if (base::is_token_char(static_cast<char>(c))) bits |= kTokenChar;
    if (visible && c != '?' && c != '#') bits |= kTargetChar;
    if (visible || c >= 0x80 || c == ' ' || c == '\t') bits |= kFieldValueChar;
    classes[c] = bits;
  }
  return classes;
}

inline constexpr std::array<std::uint8_t, 256> kCharClasses = make_char_classes();

constexpr bool has_class(char c, std::uint8_t char_class) noexcept {
  return (kCharClasses[static_cast<unsigned char>(c)] & char_class) != 0;
}

}  // namespace http::head_chars
