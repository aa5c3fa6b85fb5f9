#pragma once
// Validators and conditional requests (RFC 9110 8.8, 13): entity-tags, how they compare, and the order in
// which a request's preconditions are evaluated (13.2.2). Pure functions over the request head and what the
// store knows of the target; no allocation, no I/O.
//
// RFC 9110 13.2.1 is the caller's part: preconditions count only when the answer without them would be 2xx
// or 412, so a request whose answer is settled without them (a GET of an absent id: 404) need not ask here.
// For a PUT of an absent id they do count: If-Match fails, If-None-Match: * passes ("create only").
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "http/http_date.h"
#include "http/request.h"

namespace http {

// The current state of the target, as the store knows it.
struct Validators {
  bool exists = false;             // false: no current representation (the id is absent)
  std::string_view etag;           // strong entity-tag including its quotes, e.g. "\"0123456789abcdef\""
  std::int64_t last_modified = 0;  // Unix seconds (one-second resolution)
};

enum class Precondition { kProceed, kNotModified /*304*/, kFailed /*412*/, kMalformed /*400*/ };

// RFC 9110 13.2.2 over every If-Match, If-Unmodified-Since, If-None-Match and If-Modified-Since field line
// of `head` (a list split over several lines counts as one list):
//  1. If-Match: "*" passes when the target exists; a list passes when one tag strongly matches. Else 412.
//  2. Without If-Match, If-Unmodified-Since (when the target exists and the field is one valid HTTP-date):
//     passes when last_modified <= the date. Else 412.
//  3. If-None-Match: "*" passes when the target is absent; a list passes when no tag weakly matches.
//     Else 304 for GET and HEAD, 412 for the rest.
//  4. Without If-None-Match, for GET and HEAD only, If-Modified-Since (same validity rules as 2): passes
//     when last_modified > the date. Else 304.
// Either tag list malformed (an element that is no entity-tag, "*" with anything beside it): 400, before
// anything is evaluated. A field with no element at all is an empty list: it matches nothing.
Precondition evaluate_preconditions(const RequestHead& head, const Validators& current) noexcept;

// The strong entity-tag of a 64-bit content hash: '"' + 16 lower-case hex digits + '"'.
inline constexpr std::size_t kEtagBytes = 18;
std::string_view format_etag(std::uint64_t hash, char* out) noexcept;  // out: at least kEtagBytes

// entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE (RFC 9110 8.8.3); etagc is any visible byte but DQUOTE, or
// obs-text, so a tag may hold a comma.
struct EntityTag {
  bool weak = false;
  std::string_view opaque;  // opaque-tag, quotes included
};
// The tag when `text` is exactly one entity-tag; nullopt otherwise.
std::optional<EntityTag> parse_entity_tag(std::string_view text) noexcept;
// The length of the entity-tag at the start of `text`, or 0 when none starts there.
std::size_t entity_tag_length(std::string_view text) noexcept;

// RFC 9110 8.8.3.2: strong comparison needs both tags strong; weak comparison ignores W/.
constexpr bool strong_match(const EntityTag& a, const EntityTag& b) noexcept {
  return !a.weak && !b.weak && a.opaque == b.opaque;
}
constexpr bool weak_match(const EntityTag& a, const EntityTag& b) noexcept { return a.opaque == b.opaque; }

}  // namespace http
