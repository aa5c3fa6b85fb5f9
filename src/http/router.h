#pragma once
// Maps a request path to one of the service's routes, and decodes the bucket id.
//
// Routes are fixed: "/api/buckets/{id}", "/metrics", "/healthz", "/readyz"; anything else is kUnmatched.
// {id} is exactly one path segment after "/api/buckets/", percent-decoded, 1..kMaxIdBytes bytes after
// decoding. "/api/buckets/" (empty id), an id over the limit, or a malformed escape ("%", "%4", "%zz")
// match kBucket with bad_id set (answered 400). A raw '/' inside the segment ("/api/buckets/a/b") is
// kUnmatched; an encoded one ("%2F") is part of the id. The query string is not part of the path.
// Matching never allocates; decoding writes into the caller's reusable buffer.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/method.h"

namespace http {

enum class Route : std::uint8_t { kBucket, kMetrics, kHealthz, kReadyz, kUnmatched };
inline constexpr std::size_t kRouteCount = 5;
inline constexpr std::size_t kMaxIdBytes = 1024;

struct RouteMatch {
  Route route = Route::kUnmatched;
  bool bad_id = false;   // kBucket only: the id is empty, too long or badly escaped
  std::string_view id;   // kBucket only: decoded id, a view of id_buffer
};

// Full match including id decoding into id_buffer (cleared first; its capacity is reused).
RouteMatch match_route(std::string_view path, std::string& id_buffer);

// Route only, without decoding: for metric labels of requests that are refused before they are handled.
Route classify_route(std::string_view path) noexcept;

// The route template used as the metric label: "/api/buckets/{id}", "/metrics", ... and "unmatched".
std::string_view route_label(Route route) noexcept;

// Methods each route serves. HEAD is allowed wherever GET is.
bool route_allows(Route route, Method method) noexcept;
// Value of the Allow header for a 405 on this route, e.g. "GET, HEAD, PUT, DELETE".
std::string_view route_allow_header(Route route) noexcept;

// Percent-decodes `in` into `out` (appending). Returns false on a malformed escape. '+' is not special.
bool percent_decode(std::string_view in, std::string& out);

}  // namespace http
