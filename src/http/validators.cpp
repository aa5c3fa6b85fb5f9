#include "http/validators.h"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "base/text.h"
#include "http/field_name.h"

namespace http {
namespace {

// etagc = %x21 / %x23-7E / obs-text: every byte but the controls, space, DQUOTE and DEL.
constexpr bool is_etagc(char c) noexcept {
  const auto byte = static_cast<unsigned char>(c);
  return byte > 0x20 && byte != '"' && byte != 0x7f;
}

// The first byte in [p, end) that is not etagc, or end. A 304 reads two tags (the listed one and the
// current one), so where SSE2 exists (every x86-64) sixteen bytes are judged at a time.
const char* skip_etagc(const char* p, const char* end) noexcept {
#if defined(__SSE2__)
  const __m128i space = _mm_set1_epi8(' ');
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i del = _mm_set1_epi8(0x7f);
  while (end - p >= 16) {
    __m128i bytes;
    std::memcpy(&bytes, p, sizeof bytes);
    const __m128i low = _mm_cmpeq_epi8(_mm_max_epu8(bytes, space), space);
    const __m128i special = _mm_or_si128(_mm_cmpeq_epi8(bytes, quote), _mm_cmpeq_epi8(bytes, del));
    const auto mask = static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(low, special)));
    if (mask != 0) return p + __builtin_ctz(mask);
    p += 16;
  }
#endif
  while (p != end && is_etagc(*p)) ++p;
  return p;
}

// The length of the entity-tag at the start of `text` (0: none), and the tag.
std::size_t read_entity_tag(std::string_view text, EntityTag& tag) noexcept {
  const char* const begin = text.data();
  const char* const end = begin + text.size();
  tag.weak = text.size() >= 2 && begin[0] == 'W' && begin[1] == '/';
  const char* const open = tag.weak ? begin + 2 : begin;
  if (open == end || *open != '"') return 0;
  const char* const p = skip_etagc(open + 1, end);
  if (p == end || *p != '"') return 0;
  tag.opaque = std::string_view(open, static_cast<std::size_t>(p + 1 - open));
  return static_cast<std::size_t>(p + 1 - begin);
}

enum class Comparison { kStrong, kWeak };

// What one If-Match or If-None-Match field says, over all its lines.
struct TagList {
  bool present = false;
  bool malformed = false;
  bool star = false;
  std::size_t members = 0;
  bool matched = false;  // a listed tag matches the current one by the field's comparison
};

// #( "*" / entity-tag ) of one field line, into `list`: elements are separated by OWS "," OWS, and empty
// ones are skipped (RFC 9110 5.6.1.2). Not field_syntax::for_each_list_element: a tag may hold a comma.
void scan_tag_list(std::string_view line, const std::optional<EntityTag>& current, Comparison comparison,
                   TagList& list) noexcept {
  list.present = true;
  bool after_element = false;
  std::size_t i = 0;
  while (i < line.size()) {
    const char c = line[i];
    if (base::is_ows(c)) {
      ++i;
      continue;
    }
    if (c == ',') {
      after_element = false;
      ++i;
      continue;
    }
    if (after_element) {  // two elements with no comma between them
      list.malformed = true;
      return;
    }
    after_element = true;
    ++list.members;
    if (c == '*') {
      list.star = true;
      ++i;
      continue;
    }
    EntityTag tag;
    const std::size_t length = read_entity_tag(line.substr(i), tag);
    if (length == 0) {
      list.malformed = true;
      return;
    }
    if (current && (comparison == Comparison::kStrong ? strong_match(tag, *current) : weak_match(tag, *current))) {
      list.matched = true;
    }
    i += length;
  }
}

// If-Modified-Since and If-Unmodified-Since hold one HTTP-date; a second line makes the value a list, which
// the recipient must ignore (RFC 9110 13.1.3, 13.1.4), as it must an invalid date.
struct DateField {
  std::size_t lines = 0;
  std::string_view value;

  void add(std::string_view line) noexcept {
    ++lines;
    value = line;
  }
  std::optional<std::int64_t> date() const noexcept {
    if (lines != 1) return std::nullopt;
    return parse_http_date(value);
  }
};

constexpr bool is_get_or_head(Method method) noexcept { return method == Method::kGet || method == Method::kHead; }

}  // namespace

std::optional<EntityTag> parse_entity_tag(std::string_view text) noexcept {
  EntityTag tag;
  const std::size_t length = read_entity_tag(text, tag);
  if (length == 0 || length != text.size()) return std::nullopt;
  return tag;
}

std::size_t entity_tag_length(std::string_view text) noexcept {
  EntityTag tag;
  return read_entity_tag(text, tag);
}

std::string_view format_etag(std::uint64_t hash, char* out) noexcept {
  out[0] = '"';
#if defined(__SSE2__)
  // Every GET formats an ETag: its 16 digits are made side by side in one register (about 15
  // instructions), not looked up one by one (about 85).
  const __m128i bytes = _mm_cvtsi64_si128(static_cast<long long>(__builtin_bswap64(hash)));  // first digit first
  const __m128i nibble_mask = _mm_set1_epi8(0x0f);
  const __m128i high = _mm_and_si128(_mm_srli_epi16(bytes, 4), nibble_mask);
  const __m128i low = _mm_and_si128(bytes, nibble_mask);
  const __m128i nibbles = _mm_unpacklo_epi8(high, low);
  // A nibble of 10 or more skips the 39 characters from '9' + 1 to 'a'.
  const __m128i letters = _mm_and_si128(_mm_cmpgt_epi8(nibbles, _mm_set1_epi8(9)), _mm_set1_epi8('a' - '0' - 10));
  const __m128i digits = _mm_add_epi8(_mm_add_epi8(nibbles, _mm_set1_epi8('0')), letters);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 1), digits);
#else
  for (int i = 16; i >= 1; --i) {
    out[i] = base::kLowerHexDigits[hash & 0xf];
    hash >>= 4;
  }
#endif
  out[17] = '"';
  return {out, kEtagBytes};
}

Precondition evaluate_preconditions(const RequestHead& head, const Validators& current) noexcept {
  const std::optional<EntityTag> current_tag = current.exists ? parse_entity_tag(current.etag) : std::nullopt;
  TagList if_match;
  TagList if_none_match;
  DateField if_unmodified_since;
  DateField if_modified_since;
  for (std::size_t i = 0; i < head.header_count; ++i) {
    const Header& field = head.headers[i];
    // Most fields are passed over on their length alone.
    switch (field.name.size()) {
      case 8:
        if (field_name_is(field.name, "if-match")) scan_tag_list(field.value, current_tag, Comparison::kStrong, if_match);
        break;
      case 13:
        if (field_name_is(field.name, "if-none-match")) {
          scan_tag_list(field.value, current_tag, Comparison::kWeak, if_none_match);
        }
        break;
      case 17:
        if (field_name_is(field.name, "if-modified-since")) if_modified_since.add(field.value);
        break;
      case 19:
        if (field_name_is(field.name, "if-unmodified-since")) if_unmodified_since.add(field.value);
        break;
      default:
        break;
    }
  }
  // "*" is the whole field value or nothing: beside a tag (or another "*") the field is malformed.
  const auto malformed = [](const TagList& list) noexcept { return list.malformed || (list.star && list.members > 1); };
  if (malformed(if_match) || malformed(if_none_match)) return Precondition::kMalformed;

  if (if_match.present) {
    const bool passes = current.exists && (if_match.star || if_match.matched);
    if (!passes) return Precondition::kFailed;
  } else if (current.exists) {
    const std::optional<std::int64_t> date = if_unmodified_since.date();
    if (date && current.last_modified > *date) return Precondition::kFailed;
  }

  const bool get_or_head = is_get_or_head(head.method);
  if (if_none_match.present) {
    const bool passes = if_none_match.star ? !current.exists : !if_none_match.matched;
    if (!passes) return get_or_head ? Precondition::kNotModified : Precondition::kFailed;
  } else if (get_or_head && current.exists) {
    const std::optional<std::int64_t> date = if_modified_since.date();
    if (date && current.last_modified <= *date) return Precondition::kNotModified;
  }
  return Precondition::kProceed;
}

}  // namespace http
