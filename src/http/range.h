#pragma once
// Byte ranges of a GET (RFC 9110 14) and the If-Range precondition that guards them (13.1.5). Pure
// functions over field values; no allocation, no I/O.
//
// One range is served as a 206; several are answered with the whole value (200), which RFC 9110 14.2
// allows and which spares multipart/byteranges: a client asking for many ranges of one value gets no more
// bytes than the value, and never overlapping ranges that multiply it.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/validators.h"

namespace http {

struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive, last < length
};

enum class RangeKind { kNone /*no Range, or ignored: serve 200 whole*/, kSatisfiable /*206*/, kUnsatisfiable /*416*/ };

struct RangeDecision {
  RangeKind kind = RangeKind::kNone;
  ByteRange range;  // kSatisfiable only
};

// Range handling for a GET of a representation `length` bytes long: `range` is the Range field value (empty
// view: none), `if_range` the If-Range field value (empty: none). Only GET uses ranges: the caller does not
// call this for HEAD.
//  - Range = "bytes" (any case) "=" 1#( first-pos "-" [ last-pos ] / "-" suffix-length ), OWS around
//    commas only. Anything else, another unit, or a last-pos below its first-pos: the field is ignored.
//  - a-b: last clipped to length - 1; a-: to the end; -n: the last n bytes, the whole value when n is
//    larger. Unsatisfiable: a first-pos >= length, a suffix "-0", and every range of an empty value.
//    Digits beyond 64 bits are a valid, huge number.
//  - several ranges: the whole value (kNone), unless none of them is satisfiable (kUnsatisfiable).
//  - If-Range: an entity-tag that strongly matches current.etag (a weak tag never does), or an HTTP-date
//    equal to current.last_modified, keeps the Range; any other value, malformed ones included, drops it.
RangeDecision decide_range(std::string_view range, std::string_view if_range, std::uint64_t length,
                           const Validators& current) noexcept;

// Content-Range for a 206 ("bytes 0-9/100") or a 416 ("bytes */100"), written into `out` (at least
// kMaxContentRangeBytes); empty for kNone.
inline constexpr std::size_t kMaxContentRangeBytes = 72;
std::string_view format_content_range(const RangeDecision& decision, std::uint64_t length, char* out) noexcept;

}  // namespace http
