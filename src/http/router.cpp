#include "http/router.h"

#include <algorithm>
#include <limits>

#include "base/text.h"

namespace http {
namespace {

constexpr std::string_view kBucketPrefix = "/api/buckets/";

// Callers are meant to pass the path without the query; cutting at '?' keeps a full target from
// ever matching differently.
constexpr std::string_view without_query(std::string_view path) noexcept {
  return path.substr(0, path.find('?'));
}

enum class DecodeOutcome { kOk, kMalformed, kTooLong };

// Percent-decodes into `out`, giving up once the output would pass max_bytes, so a buffer reserved for
// max_bytes never grows.
DecodeOutcome decode_bounded(std::string_view in, std::string& out, std::size_t max_bytes) {
  // Most ids have no escape: the bytes before the first '%' are taken in one copy, not one by one.
  const std::size_t plain = std::min(in.find('%'), in.size());
  if (plain > max_bytes) return DecodeOutcome::kTooLong;
  out.append(in.data(), plain);
  std::size_t written = plain;
  for (std::size_t i = plain; i < in.size(); ++i) {
    char decoded = in[i];
    if (decoded == '%') {
      if (in.size() - i < 3) return DecodeOutcome::kMalformed;
      const int high = base::hex_value(in[i + 1]);
      const int low = base::hex_value(in[i + 2]);
      if (high < 0 || low < 0) return DecodeOutcome::kMalformed;
      decoded = static_cast<char>(high * 16 + low);
      i += 2;
    }
    if (++written > max_bytes) return DecodeOutcome::kTooLong;
    out.push_back(decoded);
  }
  return DecodeOutcome::kOk;
}

}  // namespace

namespace {

Route classify_path(std::string_view path) noexcept {  // `path` without its query
  if (path.starts_with(kBucketPrefix)) {
    return path.find('/', kBucketPrefix.size()) == std::string_view::npos ? Route::kBucket : Route::kUnmatched;
  }
  if (path == "/metrics") return Route::kMetrics;
  if (path == "/healthz") return Route::kHealthz;
  if (path == "/readyz") return Route::kReadyz;
  return Route::kUnmatched;
}

}  // namespace

Route classify_route(std::string_view path) noexcept { return classify_path(without_query(path)); }

RouteMatch match_route(std::string_view path, std::string& id_buffer) {
  id_buffer.clear();
  RouteMatch match;
  path = without_query(path);
  match.route = classify_path(path);
  if (match.route != Route::kBucket) return match;

  const std::string_view raw_id = path.substr(kBucketPrefix.size());
  if (decode_bounded(raw_id, id_buffer, kMaxIdBytes) != DecodeOutcome::kOk || id_buffer.empty()) {
    match.bad_id = true;
    id_buffer.clear();
    return match;
  }
  match.id = id_buffer;
  return match;
}

std::string_view route_label(Route route) noexcept {
  switch (route) {
    case Route::kBucket: return "/api/buckets/{id}";
    case Route::kMetrics: return "/metrics";
    case Route::kHealthz: return "/healthz";
    case Route::kReadyz: return "/readyz";
    case Route::kUnmatched: break;
  }
  return "unmatched";
}

bool route_allows(Route route, Method method) noexcept {
  const bool read = method == Method::kGet || method == Method::kHead;
  switch (route) {
    case Route::kBucket: return read || method == Method::kPut || method == Method::kDelete;
    case Route::kMetrics:
    case Route::kHealthz:
    case Route::kReadyz: return read;
    case Route::kUnmatched: break;
  }
  return false;
}

std::string_view route_allow_header(Route route) noexcept {
  switch (route) {
    case Route::kBucket: return "GET, HEAD, PUT, DELETE";
    case Route::kMetrics:
    case Route::kHealthz:
    case Route::kReadyz: return "GET, HEAD";
    case Route::kUnmatched: break;
  }
  return "";
}

bool percent_decode(std::string_view in, std::string& out) {
  return decode_bounded(in, out, std::numeric_limits<std::size_t>::max()) == DecodeOutcome::kOk;
}

}  // namespace http
