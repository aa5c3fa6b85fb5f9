#pragma once
// Comparing a received field name with a known one, a word at a time: the object handlers look for a few
// fields among every request's field lines, and a byte loop per candidate name made that one of a GET's
// larger costs. Header-only, no allocation.
//
// Against a known name of lower-case letters and '-': bit 0x20 is set in the received bytes where the
// known name has a letter (whose bit 0x40 marks it) and nowhere else, then the words are compared. Setting
// it turns 'A'..'Z' into 'a'..'z' and no other byte into a letter, and a '-' is compared exactly (a CR
// would otherwise pass for one: 0x0D | 0x20 is '-'), so the comparison is exact for any bytes, token or
// not.
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
  constexpr auto kLetterBits = static_cast<Word>(0x4040404040404040u);
  const Word expected = load_word<Word>(known);
  return (load_word<Word>(name) | ((expected & kLetterBits) >> 1)) == expected;
}

}  // namespace detail

// Whether `name` is `known` (lower-case letters and '-' only) ignoring case.
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
    if ((a[i] | ((b[i] & 0x40) >> 1)) != b[i]) return false;
  }
  return true;
}

}  // namespace http
