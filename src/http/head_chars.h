#pragma once
// Character classes of the request-head grammar (RFC 9110 5.5, 5.6.2; RFC 9112 3.2) as one table, so each
// scanning loop of the parser costs a load and a test per byte. Internal to the request parser.
#include <array>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

// The first byte in [p, end) that is not a field-value character, or end. Field values are most of a head,
// so where SSE2 exists (every x86-64) sixteen bytes are judged at a time: a control byte other than HTAB,
// or DEL, stops the scan.
inline const char* skip_field_value(const char* p, const char* end) noexcept {
#if defined(__SSE2__)
  const __m128i last_control = _mm_set1_epi8(0x1f);
  const __m128i tab = _mm_set1_epi8('\t');
  const __m128i del = _mm_set1_epi8(0x7f);
  while (end - p >= 16) {
    __m128i bytes;
    std::memcpy(&bytes, p, sizeof bytes);
    const __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(bytes, last_control), last_control);
    const __m128i bad = _mm_or_si128(_mm_andnot_si128(_mm_cmpeq_epi8(bytes, tab), control), _mm_cmpeq_epi8(bytes, del));
    const auto mask = static_cast<unsigned>(_mm_movemask_epi8(bad));
    if (mask != 0) return p + __builtin_ctz(mask);
    p += 16;
  }
#endif
  while (p < end && has_class(*p, kFieldValueChar)) ++p;
  return p;
}

// The first byte in [p, end) that is not a target character, or end; sixteen at a time where SSE2 exists:
// a byte up to SP, from DEL, '?' or '#' stops the scan.
inline const char* skip_target(const char* p, const char* end) noexcept {
#if defined(__SSE2__)
  const __m128i space = _mm_set1_epi8(' ');
  const __m128i del = _mm_set1_epi8(0x7f);
  const __m128i question = _mm_set1_epi8('?');
  const __m128i hash = _mm_set1_epi8('#');
  while (end - p >= 16) {
    __m128i bytes;
    std::memcpy(&bytes, p, sizeof bytes);
    const __m128i low = _mm_cmpeq_epi8(_mm_max_epu8(bytes, space), space);
    const __m128i high = _mm_cmpeq_epi8(_mm_min_epu8(bytes, del), del);
    const __m128i special = _mm_or_si128(_mm_cmpeq_epi8(bytes, question), _mm_cmpeq_epi8(bytes, hash));
    const auto mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(low, high), special)));
    if (mask != 0) return p + __builtin_ctz(mask);
    p += 16;
  }
#endif
  while (p < end && has_class(*p, kTargetChar)) ++p;
  return p;
}

}  // namespace http::head_chars
