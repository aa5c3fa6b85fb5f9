// match_route(), classify_route() and percent_decode() on arbitrary paths.
//
// Invariants:
//  - classify_route() names the route match_route() finds, and both agree with an independent reading of
//    the path (query cut off, fixed routes, one segment after "/api/buckets/")
//  - a good bucket id is 1..kMaxIdBytes bytes, lives in the caller's buffer, and equals an independent
//    percent-decoding of the segment; a bad id is exactly an empty, too long or badly escaped segment
//  - an id buffer reserved for kMaxIdBytes never reallocates, whatever the path
//  - percent_decode() agrees with the independent decoder and only ever appends
//  - every route's Allow header lists exactly the methods route_allows() accepts
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "http/router.h"

namespace {

constexpr std::string_view kBucketPrefix = "/api/buckets/";

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> reference_decode(std::string_view in) {
  std::string out;
  std::size_t i = 0;
  while (i < in.size()) {
    if (in[i] != '%') {
      out += in[i++];
      continue;
    }
    if (i + 2 >= in.size()) return std::nullopt;
    const int high = hex(in[i + 1]);
    const int low = hex(in[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out += static_cast<char>(high * 16 + low);
    i += 3;
  }
  return out;
}

http::Route reference_route(std::string_view path) {
  const std::size_t question = path.find('?');
  if (question != std::string_view::npos) path = path.substr(0, question);
  if (path.size() >= kBucketPrefix.size() && path.compare(0, kBucketPrefix.size(), kBucketPrefix) == 0) {
    return path.substr(kBucketPrefix.size()).find('/') == std::string_view::npos ? http::Route::kBucket
                                                                                  : http::Route::kUnmatched;
  }
  if (path == "/metrics") return http::Route::kMetrics;
  if (path == "/healthz") return http::Route::kHealthz;
  if (path == "/readyz") return http::Route::kReadyz;
  return http::Route::kUnmatched;
}

bool inside(std::string_view part, const std::string& whole) {
  if (part.empty()) return true;
  const auto begin = reinterpret_cast<std::uintptr_t>(whole.data());
  const auto at = reinterpret_cast<std::uintptr_t>(part.data());
  return at >= begin && at + part.size() <= begin + whole.size();
}

bool lists_method(std::string_view allow, std::string_view method) {
  for (;;) {
    const std::size_t comma = allow.find(", ");
    if (allow.substr(0, comma) == method) return true;
    if (comma == std::string_view::npos) return false;
    allow.remove_prefix(comma + 2);
  }
}

void check_allow_headers() {
  constexpr http::Method kMethods[] = {http::Method::kGet,     http::Method::kHead,  http::Method::kPut,
                                       http::Method::kDelete,  http::Method::kPost,  http::Method::kOptions,
                                       http::Method::kPatch,   http::Method::kConnect, http::Method::kTrace,
                                       http::Method::kUnknown};
  for (std::size_t r = 0; r < http::kRouteCount; ++r) {
    const auto route = static_cast<http::Route>(r);
    FUZZ_CHECK(!http::route_label(route).empty());
    FUZZ_CHECK(http::route_allows(route, http::Method::kGet) == http::route_allows(route, http::Method::kHead));
    for (const http::Method method : kMethods) {
      const bool listed = method != http::Method::kUnknown &&
                          lists_method(http::route_allow_header(route), http::method_name(method));
      FUZZ_CHECK(http::route_allows(route, method) == listed);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view path(reinterpret_cast<const char*>(data), size);
  // The route table is fixed: checking it once per process is enough.
  [[maybe_unused]] static const bool allow_headers_checked = (check_allow_headers(), true);

  std::string id_buffer;
  id_buffer.reserve(http::kMaxIdBytes);
  const std::size_t capacity = id_buffer.capacity();
  const char* const storage = id_buffer.data();

  // The buffer starts dirty, as it does for the second request on a connection.
  id_buffer.assign("leftover");
  const http::RouteMatch match = http::match_route(path, id_buffer);
  FUZZ_CHECK(id_buffer.capacity() == capacity && id_buffer.data() == storage);

  const http::Route expected_route = reference_route(path);
  FUZZ_CHECK(match.route == expected_route);
  FUZZ_CHECK(http::classify_route(path) == expected_route);
  FUZZ_CHECK(!http::route_label(match.route).empty());

  if (match.route != http::Route::kBucket) {
    FUZZ_CHECK(!match.bad_id && match.id.empty());
  } else {
    std::string_view segment = path.substr(kBucketPrefix.size());
    segment = segment.substr(0, segment.find('?'));
    const std::optional<std::string> decoded = reference_decode(segment);
    const bool good = decoded && !decoded->empty() && decoded->size() <= http::kMaxIdBytes;
    FUZZ_CHECK(match.bad_id == !good);
    if (good) {
      FUZZ_CHECK(match.id == *decoded);
      FUZZ_CHECK(inside(match.id, id_buffer));
    } else {
      FUZZ_CHECK(match.id.empty());
    }
    FUZZ_CHECK(match.id.size() <= http::kMaxIdBytes);
  }

  // percent_decode on the whole input appends to what is already there.
  std::string out = "prefix";
  const bool decoded_ok = http::percent_decode(path, out);
  const std::optional<std::string> expected = reference_decode(path);
  FUZZ_CHECK(decoded_ok == expected.has_value());
  FUZZ_CHECK(out.compare(0, 6, "prefix") == 0);
  if (expected) FUZZ_CHECK(std::string_view(out).substr(6) == *expected);
  return 0;
}
