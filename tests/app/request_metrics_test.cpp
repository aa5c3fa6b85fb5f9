// RequestMetrics: labels map into the closed label space (every status the service answers by name, anything
// else "other"), each observation reaches the classic buckets, the exemplar and the native histogram, and
// the exemplar's wall-clock time comes from the steady clock's reading.
#include "app/request_metrics.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "http/method.h"
#include "http/router.h"
#include "metrics/format.h"
#include "metrics/native_histogram.h"
#include "metrics/registry.h"
#include "metrics/proto_decode.h"

namespace {

constexpr auto kBucketRoute = static_cast<std::size_t>(http::Route::kBucket);

std::string render(const app::RequestMetrics& request_metrics, metrics::Format format = metrics::Format::kText) {
  metrics::Registry registry;
  registry.add(request_metrics);
  std::string out;
  registry.render(out, format);
  return out;
}

std::string count_line(std::string_view method, std::string_view path, std::string_view status, int count) {
  return "http_request_duration_seconds_count{method=\"" + std::string(method) + "\",path=\"" + std::string(path) +
         "\",status=\"" + std::string(status) + "\"} " + std::to_string(count) + "\n";
}

TEST(RequestMetrics, EveryAnsweredStatusHasItsOwnLabel) {
  app::RequestMetrics request_metrics({0.001, 0.01}, 1);
  constexpr std::array<int, 20> kAnswered = {200, 206, 304, 400, 401, 404, 405, 408, 411, 412,
                                            413, 414, 416, 417, 431, 500, 501, 503, 505, 507};
  for (const int status : kAnswered) request_metrics.observe(0, http::Method::kGet, kBucketRoute, status, 0.002);
  const std::string text = render(request_metrics);
  for (const int status : kAnswered) {
    EXPECT_NE(text.find(count_line("GET", "/api/buckets/{id}", std::to_string(status), 1)), std::string::npos)
        << status << "\n" << text;
  }
  EXPECT_EQ(text.find("status=\"other\""), std::string::npos) << text;
}

TEST(RequestMetrics, StatusesOutsideTheLabelSpaceShareOther) {
  app::RequestMetrics request_metrics({0.001, 0.01}, 1);
  for (const int status : {0, -1, 100, 201, 299, 418, 599, 600, 999, 1 << 30}) {
    request_metrics.observe(0, http::Method::kPut, kBucketRoute, status, 0.002);
  }
  EXPECT_NE(render(request_metrics).find(count_line("PUT", "/api/buckets/{id}", "other", 10)), std::string::npos);
}

TEST(RequestMetrics, MethodsOutsideTheLabelSpaceShareOther) {
  app::RequestMetrics request_metrics({0.001, 0.01}, 1);
  const std::array<std::pair<http::Method, std::string_view>, 10> kMethods = {{
      {http::Method::kGet, "GET"},
      {http::Method::kHead, "HEAD"},
      {http::Method::kPut, "PUT"},
      {http::Method::kDelete, "DELETE"},
      {http::Method::kPost, "POST"},
      {http::Method::kOptions, "OPTIONS"},
      {http::Method::kPatch, "PATCH"},
      {http::Method::kConnect, "other"},
      {http::Method::kTrace, "other"},
      {http::Method::kUnknown, "other"},
  }};
  for (const auto& [method, label] : kMethods) request_metrics.observe(0, method, kBucketRoute, 404, 0.002);
  const std::string text = render(request_metrics);
  for (const auto& [method, label] : kMethods) {
    const int expected = label == "other" ? 3 : 1;
    EXPECT_NE(text.find(count_line(label, "/api/buckets/{id}", "404", expected)), std::string::npos)
        << label << "\n" << text;
  }
}

TEST(RequestMetrics, PathsPastTheRoutesAreUnparsed) {
  app::RequestMetrics request_metrics({0.001, 0.01}, 1);
  request_metrics.observe(0, http::Method::kGet, app::RequestMetrics::kUnparsedPath, 400, 0.002);
  request_metrics.observe(0, http::Method::kGet, app::RequestMetrics::kUnparsedPath + 7, 400, 0.002);
  EXPECT_NE(render(request_metrics).find(count_line("GET", "unparsed", "400", 2)), std::string::npos);
}

TEST(RequestMetrics, AnObservationFillsItsBucketAndSum) {
  app::RequestMetrics request_metrics({0.001, 0.01}, 2);
  request_metrics.observe(0, http::Method::kGet, kBucketRoute, 200, 0.0005);
  request_metrics.observe(1, http::Method::kGet, kBucketRoute, 200, 0.005);
  request_metrics.observe(1, http::Method::kGet, kBucketRoute, 200, 0.5);
  const std::string text = render(request_metrics);
  const std::string series = R"({method="GET",path="/api/buckets/{id}",status="200")";
  EXPECT_NE(text.find("http_request_duration_seconds_bucket" + series + ",le=\"0.001\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("http_request_duration_seconds_bucket" + series + ",le=\"0.01\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("http_request_duration_seconds_bucket" + series + ",le=\"+Inf\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("http_request_duration_seconds_sum" + series + "} 0.5055\n"),
            std::string::npos)
      << text;
}

TEST(RequestMetrics, TheRequestIdBecomesTheBucketsExemplarAtWallClockTime) {
  app::RequestMetrics request_metrics({0.001, 0.01}, 1);
  char padded[metrics::kExemplarIdBytes] = "0af7651916cd43dd8448eb211c80319c";
  const auto before = std::chrono::system_clock::now();
  request_metrics.observe(0, http::Method::kGet, kBucketRoute, 200, 0.004,
                          std::span<const char, metrics::kExemplarIdBytes>(padded), std::chrono::steady_clock::now());
  const auto after = std::chrono::system_clock::now();
  const std::string text = render(request_metrics, metrics::Format::kOpenMetrics);
  const std::string_view marker = R"(le="0.01"} 1 # {trace_id="0af7651916cd43dd8448eb211c80319c"} 0.004 )";
  const std::size_t at = text.find(marker);
  ASSERT_NE(at, std::string::npos) << text;
  const double stamp = std::stod(text.substr(at + marker.size()));
  const auto seconds = [](std::chrono::system_clock::time_point t) {
    return std::chrono::duration<double>(t.time_since_epoch()).count();
  };
  // The steady-to-wall offset is taken once, at construction; a millisecond covers the clocks' rounding.
  EXPECT_GE(stamp, seconds(before) - 0.001);
  EXPECT_LE(stamp, seconds(after) + 0.001);
}

TEST(RequestMetrics, AnAllZeroRequestIdRecordsNoExemplar) {
  app::RequestMetrics request_metrics({0.001, 0.01}, 1);
  const char zeros[metrics::kExemplarIdBytes] = {};
  request_metrics.observe(0, http::Method::kGet, kBucketRoute, 200, 0.004,
                          std::span<const char, metrics::kExemplarIdBytes>(zeros), std::chrono::steady_clock::now());
  const std::string text = render(request_metrics, metrics::Format::kOpenMetrics);
  EXPECT_NE(text.find(count_line("GET", "/api/buckets/{id}", "200", 1)), std::string::npos) << text;
  EXPECT_EQ(text.find("trace_id"), std::string::npos) << text;
}

TEST(RequestMetrics, ProtobufCarriesTheNativeHistogramOfTheSameObservations) {
  metrics::NativeHistogramOptions options;
  options.schema = 0;  // buckets (2^(k-1), 2^k]
  app::RequestMetrics request_metrics({0.001, 0.01}, 2, options);
  request_metrics.observe(0, http::Method::kGet, kBucketRoute, 200, 0.003);    // key -8: (2^-9, 2^-8]
  request_metrics.observe(1, http::Method::kGet, kBucketRoute, 200, 0.0035);   // key -8
  request_metrics.observe(1, http::Method::kGet, kBucketRoute, 200, 0.1);      // key -3: (2^-4, 2^-3]
  request_metrics.observe(0, http::Method::kGet, kBucketRoute, 200, 1e-7);     // the zero bucket
  const auto messages = proto_test::split_delimited(render(request_metrics, metrics::Format::kProtobuf));
  ASSERT_TRUE(messages.has_value());
  const auto decode = [](const std::string& bytes) {
    auto fields = proto_test::decode(bytes);
    EXPECT_TRUE(fields.has_value());
    return fields.value_or(std::vector<proto_test::Field>{});
  };
  ASSERT_EQ(messages->size(), 2u);  // http_request_duration_seconds, http_requests_in_flight
  const auto family = decode((*messages)[0]);
  ASSERT_NE(proto_test::first(family, 1), nullptr);
  EXPECT_EQ(proto_test::first(family, 1)->bytes, "http_request_duration_seconds");
  const auto metric_fields = proto_test::all(family, 4);
  ASSERT_EQ(metric_fields.size(), 1u);
  const auto metric = decode(metric_fields[0].bytes);
  const auto histogram = decode(proto_test::first(metric, 7)->bytes);
  EXPECT_EQ(proto_test::first(histogram, 1)->varint, 4u);                      // sample_count
  EXPECT_EQ(proto_test::unzigzag(proto_test::first(histogram, 5)->varint), 0);  // schema
  EXPECT_EQ(proto_test::first(histogram, 7)->varint, 1u);                      // zero_count
  const auto spans = proto_test::all(histogram, 12);
  const auto deltas = proto_test::all(histogram, 13);
  ASSERT_EQ(spans.size(), 2u);
  const auto span = [&](std::size_t i) { return decode(spans[i].bytes); };
  EXPECT_EQ(proto_test::unzigzag(proto_test::first(span(0), 1)->varint), -8);
  EXPECT_EQ(proto_test::first(span(0), 2)->varint, 1u);
  EXPECT_EQ(proto_test::unzigzag(proto_test::first(span(1), 1)->varint), 4);  // -3 is 4 after -8's end
  EXPECT_EQ(proto_test::first(span(1), 2)->varint, 1u);
  // Packed or not, the deltas are 2 (key -8) then -1 (key -3: one observation).
  std::vector<std::int64_t> values;
  for (const auto& delta : deltas) {
    if (delta.wire == 0) {
      values.push_back(proto_test::unzigzag(delta.varint));
      continue;
    }
    std::string_view packed = delta.bytes;
    std::uint64_t v = 0;
    while (!packed.empty() && proto_test::read_varint(packed, v)) values.push_back(proto_test::unzigzag(v));
  }
  EXPECT_EQ(values, (std::vector<std::int64_t>{2, -1}));
}

}  // namespace
