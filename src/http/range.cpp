#include "http/range.h"

#include <charconv>
#include <cstring>
#include <limits>

#include "base/text.h"
#include "http/field_syntax.h"

namespace http {
namespace {

constexpr std::uint64_t kHuge = std::numeric_limits<std::uint64_t>::max();

// 1*DIGIT, saturating: a position past 2^64 - 1 lies past the end of any value all the same.
bool parse_position(std::string_view digits, std::uint64_t& value) noexcept {
  if (digits.empty()) return false;
  value = 0;
  for (const char c : digits) {
    if (!base::is_digit(c)) return false;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    value = value > (kHuge - digit) / 10 ? kHuge : value * 10 + digit;
  }
  return true;
}

enum class Spec { kInvalid, kSatisfiable, kUnsatisfiable };

// One range-spec against a value `length` bytes long.
Spec read_range_spec(std::string_view spec, std::uint64_t length, ByteRange& out) noexcept {
  const std::size_t dash = spec.find('-');
  if (dash == std::string_view::npos) return Spec::kInvalid;
  const std::string_view before = spec.substr(0, dash);
  const std::string_view after = spec.substr(dash + 1);
  if (before.empty()) {  // suffix-range = "-" suffix-length
    std::uint64_t suffix = 0;
    if (!parse_position(after, suffix)) return Spec::kInvalid;
    if (suffix == 0 || length == 0) return Spec::kUnsatisfiable;
    out.first = suffix >= length ? 0 : length - suffix;
    out.last = length - 1;
    return Spec::kSatisfiable;
  }
  std::uint64_t first = 0;
  std::uint64_t last = kHuge;  // int-range without last-pos: to the end
  if (!parse_position(before, first)) return Spec::kInvalid;
  if (!after.empty() && !parse_position(after, last)) return Spec::kInvalid;
  if (last < first) return Spec::kInvalid;
  if (first >= length) return Spec::kUnsatisfiable;
  out.first = first;
  out.last = last < length - 1 ? last : length - 1;
  return Spec::kSatisfiable;
}

// If-Range = entity-tag / HTTP-date
bool if_range_holds(std::string_view if_range, const Validators& current) noexcept {
  if (!current.exists) return false;
  if (if_range.front() == '"' || if_range.substr(0, 2) == "W/") {
    const std::optional<EntityTag> tag = parse_entity_tag(if_range);
    const std::optional<EntityTag> current_tag = parse_entity_tag(current.etag);
    return tag && current_tag && strong_match(*tag, *current_tag);
  }
  const std::optional<std::int64_t> date = parse_http_date(if_range);
  return date && *date == current.last_modified;
}

}  // namespace

RangeDecision decide_range(std::string_view range, std::string_view if_range, std::uint64_t length,
                           const Validators& current) noexcept {
  RangeDecision decision;
  if (range.empty()) return decision;
  if (!if_range.empty() && !if_range_holds(if_range, current)) return decision;

  const std::size_t equals = range.find('=');
  if (equals == std::string_view::npos || !base::equals_ignore_case(range.substr(0, equals), "bytes")) {
    return decision;
  }
  const std::string_view range_set = range.substr(equals + 1);
  // OWS belongs around the commas only (RFC 9110 5.6.1): "bytes= 0-1" is not a Range.
  if (!range_set.empty() && base::is_ows(range_set.front())) return decision;
  std::size_t specs = 0;
  std::size_t satisfiable = 0;
  ByteRange first_satisfiable;
  const bool valid = field_syntax::for_each_list_element(range_set, [&](std::string_view spec) noexcept {
    if (spec.empty()) return true;  // empty list elements are skipped (RFC 9110 5.6.1.2)
    ++specs;
    ByteRange r;
    switch (read_range_spec(spec, length, r)) {
      case Spec::kInvalid:
        return false;
      case Spec::kSatisfiable:
        if (satisfiable++ == 0) first_satisfiable = r;
        return true;
      case Spec::kUnsatisfiable:
        return true;
    }
    return false;
  });
  if (!valid || specs == 0) return decision;  // range-set is 1#range-spec
  if (satisfiable == 0) {
    decision.kind = RangeKind::kUnsatisfiable;
  } else if (specs == 1) {
    decision.kind = RangeKind::kSatisfiable;
    decision.range = first_satisfiable;
  }
  return decision;
}

std::string_view format_content_range(const RangeDecision& decision, std::uint64_t length, char* out) noexcept {
  if (decision.kind == RangeKind::kNone) return {};
  char* const end = out + kMaxContentRangeBytes;
  char* p = out;
  std::memcpy(p, "bytes ", 6);
  p += 6;
  if (decision.kind == RangeKind::kSatisfiable) {
    p = std::to_chars(p, end, decision.range.first).ptr;
    *p++ = '-';
    p = std::to_chars(p, end, decision.range.last).ptr;
  } else {
    *p++ = '*';
  }
  *p++ = '/';
  p = std::to_chars(p, end, length).ptr;
  return {out, static_cast<std::size_t>(p - out)};
}

}  // namespace http
