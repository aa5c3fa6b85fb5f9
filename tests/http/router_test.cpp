#include "http/router.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace http {
namespace {

using namespace std::string_literals;

struct RouteCase {
  std::string path;
  Route route;
  bool bad_id;
  std::string id;
};

TEST(Router, MatchesRoutesAndDecodesIds) {
  const RouteCase cases[] = {
      {"/metrics", Route::kMetrics, false, ""},
      {"/healthz", Route::kHealthz, false, ""},
      {"/readyz", Route::kReadyz, false, ""},
      {"/api/buckets/photos", Route::kBucket, false, "photos"},
      {"/api/buckets/a.b-c_d~e", Route::kBucket, false, "a.b-c_d~e"},
      {"/api/buckets/hello%20world", Route::kBucket, false, "hello world"},
      {"/api/buckets/a%2Fb", Route::kBucket, false, "a/b"},
      {"/api/buckets/a%2fb", Route::kBucket, false, "a/b"},
      {"/api/buckets/%41%62", Route::kBucket, false, "Ab"},
      {"/api/buckets/a+b", Route::kBucket, false, "a+b"},
      {"/api/buckets/%00", Route::kBucket, false, "\0"s},
      {"/api/buckets/%25", Route::kBucket, false, "%"},
      {"/api/buckets/..", Route::kBucket, false, ".."},
      {"/api/buckets/x?ignored=1", Route::kBucket, false, "x"},
      {"/metrics?name=x", Route::kMetrics, false, ""},
      {"/api/buckets/", Route::kBucket, true, ""},
      {"/api/buckets/%", Route::kBucket, true, ""},
      {"/api/buckets/%4", Route::kBucket, true, ""},
      {"/api/buckets/a%4", Route::kBucket, true, ""},
      {"/api/buckets/%zz", Route::kBucket, true, ""},
      {"/api/buckets/%g1", Route::kBucket, true, ""},
      {"/api/buckets/?q", Route::kBucket, true, ""},
      {"/api/buckets/a/b", Route::kUnmatched, false, ""},
      {"/api/buckets/a/", Route::kUnmatched, false, ""},
      {"/api/buckets//", Route::kUnmatched, false, ""},
      {"/api/buckets", Route::kUnmatched, false, ""},
      {"/api/bucketsx", Route::kUnmatched, false, ""},
      {"/API/buckets/x", Route::kUnmatched, false, ""},
      {"/metrics/", Route::kUnmatched, false, ""},
      {"/Metrics", Route::kUnmatched, false, ""},
      {"/metricsx", Route::kUnmatched, false, ""},
      {"/healthz/", Route::kUnmatched, false, ""},
      {"/%6Detrics", Route::kUnmatched, false, ""},
      {"/", Route::kUnmatched, false, ""},
      {"*", Route::kUnmatched, false, ""},
      {"", Route::kUnmatched, false, ""},
  };
  for (const RouteCase& c : cases) {
    SCOPED_TRACE(c.path);
    std::string buffer = "stale";
    const RouteMatch match = match_route(c.path, buffer);
    EXPECT_EQ(match.route, c.route);
    EXPECT_EQ(match.bad_id, c.bad_id);
    EXPECT_EQ(match.id, c.id);
    if (!match.id.empty()) {
      EXPECT_EQ(match.id.data(), buffer.data()) << "id is a view of the buffer";
    }
    EXPECT_EQ(classify_route(c.path), c.route) << "classification agrees with the full match";
  }
}

TEST(Router, IdLengthLimitAppliesAfterDecoding) {
  std::string buffer;
  const std::string longest = "/api/buckets/" + std::string(kMaxIdBytes, 'a');
  RouteMatch match = match_route(longest, buffer);
  EXPECT_FALSE(match.bad_id);
  EXPECT_EQ(match.id.size(), kMaxIdBytes);

  match = match_route(longest + "a", buffer);
  EXPECT_EQ(match.route, Route::kBucket);
  EXPECT_TRUE(match.bad_id);

  // Three encoded bytes decode to one, so this raw segment is three times the limit but fits.
  std::string encoded = "/api/buckets/";
  for (std::size_t i = 0; i < kMaxIdBytes; ++i) encoded += "%41";
  match = match_route(encoded, buffer);
  EXPECT_FALSE(match.bad_id);
  EXPECT_EQ(match.id, std::string(kMaxIdBytes, 'A'));
  match = match_route(encoded + "%41", buffer);
  EXPECT_TRUE(match.bad_id);
}

TEST(Router, MatchingReusesTheBufferWithoutAllocating) {
  std::string buffer;
  buffer.reserve(kMaxIdBytes);
  const char* const storage = buffer.data();
  const std::size_t capacity = buffer.capacity();
  const std::string paths[] = {
      "/api/buckets/" + std::string(kMaxIdBytes, 'x'),
      "/api/buckets/" + std::string(kMaxIdBytes * 3, 'y'),  // over the limit: given up without growing
      "/api/buckets/short",
      "/api/buckets/%zz",
      "/metrics",
  };
  for (const std::string& path : paths) {
    SCOPED_TRACE(path.substr(0, 40));
    match_route(path, buffer);
    EXPECT_EQ(buffer.data(), storage);
    EXPECT_EQ(buffer.capacity(), capacity);
  }
}

TEST(Router, ClearsTheBufferForEveryMatch) {
  std::string buffer;
  EXPECT_EQ(match_route("/api/buckets/first", buffer).id, "first");
  EXPECT_EQ(match_route("/api/buckets/2nd", buffer).id, "2nd");
  match_route("/metrics", buffer);
  EXPECT_TRUE(buffer.empty());
}

TEST(Router, PercentDecode) {
  const struct {
    std::string_view in;
    bool ok;
    std::string_view out;
  } cases[] = {
      {"", true, ""},
      {"plain", true, "plain"},
      {"a%20b", true, "a b"},
      {"%7e%7E", true, "~~"},
      {"%ff", true, "\xff"},
      {"a+b", true, "a+b"},
      {"%", false, ""},
      {"%4", false, ""},
      {"%zz", false, ""},
      {"%4g", false, ""},
      {"ok%", false, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    std::string out = ">";
    EXPECT_EQ(percent_decode(c.in, out), c.ok);
    if (c.ok) {
      EXPECT_EQ(out, ">" + std::string(c.out)) << "appends to what is there";
    }
  }
}

TEST(Router, LabelsAreRouteTemplates) {
  EXPECT_EQ(route_label(Route::kBucket), "/api/buckets/{id}");
  EXPECT_EQ(route_label(Route::kMetrics), "/metrics");
  EXPECT_EQ(route_label(Route::kHealthz), "/healthz");
  EXPECT_EQ(route_label(Route::kReadyz), "/readyz");
  EXPECT_EQ(route_label(Route::kUnmatched), "unmatched");
}

TEST(Router, AllowedMethodsPerRoute) {
  const Method all[] = {Method::kGet,     Method::kHead,  Method::kPut,     Method::kDelete, Method::kPost,
                        Method::kOptions, Method::kPatch, Method::kConnect, Method::kTrace,  Method::kUnknown};
  const struct {
    Route route;
    std::string_view allowed;  // method names, space separated, as in the Allow header
    std::string_view allow_header;
  } cases[] = {
      {Route::kBucket, "GET HEAD PUT DELETE", "GET, HEAD, PUT, DELETE"},
      {Route::kMetrics, "GET HEAD", "GET, HEAD"},
      {Route::kHealthz, "GET HEAD", "GET, HEAD"},
      {Route::kReadyz, "GET HEAD", "GET, HEAD"},
      {Route::kUnmatched, "", ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(route_label(c.route));
    EXPECT_EQ(route_allow_header(c.route), c.allow_header);
    for (const Method method : all) {
      const std::string padded = " " + std::string(c.allowed) + " ";
      const bool expected = method != Method::kUnknown &&
                            padded.find(" " + std::string(method_name(method)) + " ") != std::string::npos;
      EXPECT_EQ(route_allows(c.route, method), expected) << method_name(method);
    }
  }
}

}  // namespace
}  // namespace http
