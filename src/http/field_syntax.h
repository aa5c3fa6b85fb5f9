#pragma once
// Syntax of the header field values that decide how a request is framed and whom it is for (RFC 9110,
// RFC 3986): Content-Length, one transfer coding, Host, and the list form they share. Pure functions over a
// field value whose OWS is already trimmed; no allocation.
#include <cstdint>
#include <string_view>

#include "base/text.h"

namespace http::field_syntax {

// Calls visit(element) for each element of a comma-separated list (RFC 9110 5.6.1), OWS trimmed; empty
// elements included, so callers decide whether to skip or refuse them. Stops early when visit returns false.
template <typename Visit>
bool for_each_list_element(std::string_view list, Visit&& visit) noexcept {
  for (;;) {
    const std::size_t comma = list.find(',');
    if (!visit(base::trim_ows(list.substr(0, comma)))) return false;
    if (comma == std::string_view::npos) return true;
    list.remove_prefix(comma + 1);
  }
}

// Content-Length = 1*DIGIT, or a list of identical values (RFC 9110 8.6). False on anything else,
// including a sign, hex, an empty element or a value beyond 64 bits.
bool parse_content_length(std::string_view value, std::uint64_t& length) noexcept;

// transfer-coding = token *( OWS ";" OWS token BWS "=" BWS ( token / quoted-string ) ) (RFC 9110 10.1.4).
bool is_transfer_coding(std::string_view element) noexcept;

// Host = uri-host [ ":" port ], empty allowed (RFC 9110 7.2); uri-host = "[" IPv6address "]" / IPv4address /
// reg-name (RFC 3986 3.2.2); port = *DIGIT. Userinfo, a path, whitespace or a second colon make it invalid.
bool is_valid_host(std::string_view value) noexcept;

bool is_ipv6_address(std::string_view text) noexcept;  // RFC 3986 IPv6address, without brackets

// The length of the quoted-string (RFC 9110 5.6.4) that starts `text`, or npos when none does: DQUOTE,
// then qdtext (HTAB, SP, visible bytes but DQUOTE and backslash, obs-text) or quoted-pair (a backslash and
// HTAB, SP, a visible byte or obs-text), then DQUOTE.
std::size_t quoted_string_length(std::string_view text) noexcept;

// The length of the parameter value (RFC 9110 5.6.6: a token or a quoted-string) that starts `text`; 0 when
// none does.
std::size_t parameter_value_length(std::string_view text) noexcept;

}  // namespace http::field_syntax
