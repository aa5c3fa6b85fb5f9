#pragma once
// Comparing a received field name with a known one, a word at a time: the object handlers look for a few
// fields among every request's field lines, and a byte loop per candidate name made that one of a GET's
// larger costs. Header-only, no allocation.
//
// A received name is a token (RFC 9110 5.6.2; the parser admits nothing else). Setting bit 0x20 of a
// token character turns an upper-case letter into its lower-case one, '^' into '~' and '_' into DEL, and
// leaves the rest as they are: so against a known name of lower-case letters and '-', one OR per byte is
// an exact case-insensitive comparison.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace http {

namespace detail {

template <typename Word>
Word load_word(const char* at) noexcept {
  Word word;
  std::memcpy(&word, at, sizeof word);
  return word;
}

template <typename Word>
bool word_matches(const char* name, const char* known) noexcept {
  constexpr auto kLowerCaseBits = static_cast<Word>(0x2020202020202020u);
  return (load_word<Word>(name) | kLowerCaseBits) == load_word<Word>(known);
}

}  // namespace detail

// Whether `name` (a token) is `known` (lower-case letters and '-' only) ignoring case.
inline bool field_name_is(std::string_view name, std::string_view known) noexcept {
  const std::size_t size = known.size();
  if (name.size() != size) return false;
  const char* const a = name.data();
  const char* const b = known.data();
  if (size >= 8) {
    // Whole words, the last one ending at the last byte (overlapping the one before it).
    for (std::size_t i = 0; i + 8 < size; i += 8) {
      if (!detail::word_matches<std::uint64_t>(a + i, b + i)) return false;
    }
    return detail::word_matches<std::uint64_t>(a + size - 8, b + size - 8);
  }
  if (size >= 4) {
    return detail::word_matches<std::uint32_t>(a, b) && detail::word_matches<std::uint32_t>(a + size - 4, b + size - 4);
  }
  for (std::size_t i = 0; i < size; ++i) {
    if ((a[i] | 0x20) != b[i]) return false;
  }
  return true;
}

}  // namespace http
