#pragma once
// Content-Type values (RFC 9110 8.3.1), checked before a stored value keeps the one its PUT named. Pure
// function over a field value; no allocation.
#include <cstddef>
#include <string_view>

namespace http {

inline constexpr std::size_t kMaxContentTypeBytes = 256;

// media-type = type "/" subtype *( OWS ";" OWS [ parameter ] ), type and subtype tokens,
// parameter = token "=" ( token / quoted-string ) with no whitespace around "=". RFC 9110 lets a parameter
// be empty ("text/plain;" and "a/b; ; c=d" are valid). At most kMaxContentTypeBytes; no CTL outside a
// quoted-string's HTAB. The caller passes the field value with its OWS already trimmed.
bool is_valid_media_type(std::string_view value) noexcept;

}  // namespace http
