#include "metrics/exposition.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "metrics/histogram.h"

namespace metrics {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string value_text(double value) {
  std::string out;
  append_value(out, value);
  return out;
}

TEST(AppendValue, FormatsIntegersDecimalsAndSpecialValues) {
  struct Case {
    double value;
    std::string text;
  };
  const Case cases[] = {
      {0, "0"},
      {-0.0, "0"},
      {42, "42"},
      {-3, "-3"},
      {1e15, "1000000000000000"},
      {9007199254740991.0, "9007199254740991"},  // 2^53 - 1: still printed as an integer
      {-9007199254740991.0, "-9007199254740991"},
      {1e16, "1e+16"},  // beyond 2^53: shortest round-trip form
      {1e21, "1e+21"},
      {0.5, "0.5"},
      {-2.5, "-2.5"},
      {0.1, "0.1"},
      {0.00005, "5e-05"},
      {123456.789, "123456.789"},
      {1.0 / 3.0, "0.3333333333333333"},
      {1.5e300, "1.5e+300"},
      {5e-324, "5e-324"},
      {kInf, "+Inf"},
      {-kInf, "-Inf"},
      {std::numeric_limits<double>::quiet_NaN(), "NaN"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(value_text(c.value), c.text);
  }
}

TEST(AppendValue, AppendsToExistingText) {
  std::string out = "x ";
  append_value(out, 7);
  EXPECT_EQ(out, "x 7");
}

TEST(Escaping, LabelValuesEscapeBackslashQuoteAndNewline) {
  struct Case {
    std::string raw;
    std::string escaped;
  };
  const Case cases[] = {
      {"", ""},
      {"plain /path-1.2", "plain /path-1.2"},
      {"a\\b", "a\\\\b"},
      {"say \"hi\"", "say \\\"hi\\\""},
      {"two\nlines", "two\\nlines"},
      {"\\\"\n", "\\\\\\\"\\n"},
      {"tab\tstays", "tab\tstays"},
      {"caf\xc3\xa9", "caf\xc3\xa9"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.raw);
    std::string out;
    append_escaped_label_value(out, c.raw);
    EXPECT_EQ(out, c.escaped);
  }
}

TEST(Escaping, HelpEscapesBackslashAndNewlineButNotQuote) {
  struct Case {
    std::string raw;
    std::string escaped;
  };
  const Case cases[] = {
      {"", ""},
      {"Total requests.", "Total requests."},
      {"a\\b", "a\\\\b"},
      {"say \"hi\"", "say \"hi\""},
      {"two\nlines", "two\\nlines"},
      {"\\\"\n", "\\\\\"\\n"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.raw);
    std::string out;
    append_escaped_help(out, c.raw);
    EXPECT_EQ(out, c.escaped);
  }
}

TEST(TextWriter, WritesFamilyHeaderForEveryType) {
  struct Case {
    MetricType type;
    std::string expected;
  };
  const Case cases[] = {
      {MetricType::kCounter, "# HELP m Some help.\n# TYPE m counter\n"},
      {MetricType::kGauge, "# HELP m Some help.\n# TYPE m gauge\n"},
      {MetricType::kHistogram, "# HELP m Some help.\n# TYPE m histogram\n"},
      {MetricType::kUntyped, "# HELP m Some help.\n# TYPE m untyped\n"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.expected);
    std::string out;
    TextWriter writer(out);
    writer.family("m", "Some help.", c.type);
    EXPECT_EQ(out, c.expected);
  }
}

TEST(TextWriter, EscapesHelpText) {
  std::string out;
  TextWriter writer(out);
  writer.family("odd_total", "Path C:\\tmp, \"quoted\"\nsecond line.", MetricType::kCounter);
  EXPECT_EQ(out,
            "# HELP odd_total Path C:\\\\tmp, \"quoted\"\\nsecond line.\n"
            "# TYPE odd_total counter\n");
}

TEST(TextWriter, WritesSamplesWithAndWithoutLabels) {
  std::string out = "# existing\n";
  TextWriter writer(out);
  writer.family("http_requests_total", "Requests served.", MetricType::kCounter);
  writer.sample("http_requests_total", {{"method", "GET"}, {"path", "/a\\b\"c\nd"}}, 1027);
  writer.sample("http_requests_total", {{"method", "POST"}}, 3);
  writer.family("up", "Whether the process is up.", MetricType::kGauge);
  writer.sample("up", {}, 1);
  const std::vector<Label> labels = {{"shard", "0"}};
  writer.sample("queue_seconds", labels, 0.25);
  EXPECT_EQ(out,
            "# existing\n"
            "# HELP http_requests_total Requests served.\n"
            "# TYPE http_requests_total counter\n"
            "http_requests_total{method=\"GET\",path=\"/a\\\\b\\\"c\\nd\"} 1027\n"
            "http_requests_total{method=\"POST\"} 3\n"
            "# HELP up Whether the process is up.\n"
            "# TYPE up gauge\n"
            "up 1\n"
            "queue_seconds{shard=\"0\"} 0.25\n");
}

TEST(TextWriter, WritesBucketLinesWithLe) {
  std::string out;
  TextWriter writer(out);
  const std::vector<Label> labels = {{"method", "GET"}};
  writer.bucket("d_bucket", labels, 0.5, 3);
  writer.bucket("d_bucket", labels, 0.00025, 2);
  writer.bucket("d_bucket", labels, 10, 4);
  writer.bucket("d_bucket", {}, kInf, 7);
  EXPECT_EQ(out,
            "d_bucket{method=\"GET\",le=\"0.5\"} 3\n"
            "d_bucket{method=\"GET\",le=\"0.00025\"} 2\n"
            "d_bucket{method=\"GET\",le=\"10\"} 4\n"
            "d_bucket{le=\"+Inf\"} 7\n");
}

TEST(WriteHistogramSeries, WritesCumulativeBucketsSumAndCount) {
  const std::vector<double> bounds = {0.005, 0.1, 1};
  ShardedHistogram histogram(bounds, 2, 2);
  histogram.observe(0, 1, 0.001);
  histogram.observe(1, 1, 0.005);
  histogram.observe(0, 1, 0.5);
  histogram.observe(1, 1, 2.5);
  histogram.observe(0, 0, 0.05);

  std::string out;
  TextWriter writer(out);
  writer.family("http_request_duration_seconds", "Request latency.", MetricType::kHistogram);
  ShardedHistogram::Snapshot snapshot;
  histogram.collect(1, snapshot);
  const std::vector<Label> labels = {{"method", "PUT"}, {"path", "/b/{id}"}, {"status", "201"}};
  write_histogram_series(writer, "http_request_duration_seconds", labels, snapshot, histogram.upper_bounds());
  histogram.collect(0, snapshot);
  write_histogram_series(writer, "http_request_duration_seconds", {}, snapshot, histogram.upper_bounds());

  EXPECT_EQ(out,
            "# HELP http_request_duration_seconds Request latency.\n"
            "# TYPE http_request_duration_seconds histogram\n"
            "http_request_duration_seconds_bucket{method=\"PUT\",path=\"/b/{id}\",status=\"201\",le=\"0.005\"} 2\n"
            "http_request_duration_seconds_bucket{method=\"PUT\",path=\"/b/{id}\",status=\"201\",le=\"0.1\"} 2\n"
            "http_request_duration_seconds_bucket{method=\"PUT\",path=\"/b/{id}\",status=\"201\",le=\"1\"} 3\n"
            "http_request_duration_seconds_bucket{method=\"PUT\",path=\"/b/{id}\",status=\"201\",le=\"+Inf\"} 4\n"
            "http_request_duration_seconds_sum{method=\"PUT\",path=\"/b/{id}\",status=\"201\"} 3.006\n"
            "http_request_duration_seconds_count{method=\"PUT\",path=\"/b/{id}\",status=\"201\"} 4\n"
            "http_request_duration_seconds_bucket{le=\"0.005\"} 0\n"
            "http_request_duration_seconds_bucket{le=\"0.1\"} 1\n"
            "http_request_duration_seconds_bucket{le=\"1\"} 1\n"
            "http_request_duration_seconds_bucket{le=\"+Inf\"} 1\n"
            "http_request_duration_seconds_sum 0.05\n"
            "http_request_duration_seconds_count 1\n");
}

TEST(WriteHistogramSeries, WritesSingleBoundAndNegativeSum) {
  ShardedHistogram::Snapshot snapshot;
  snapshot.cumulative = {1, 3};
  snapshot.count = 3;
  snapshot.sum = -1.5;
  const std::vector<double> bounds = {0};
  std::string out;
  TextWriter writer(out);
  write_histogram_series(writer, "t", {}, snapshot, bounds);
  EXPECT_EQ(out,
            "t_bucket{le=\"0\"} 1\n"
            "t_bucket{le=\"+Inf\"} 3\n"
            "t_sum -1.5\n"
            "t_count 3\n");
}

}  // namespace
}  // namespace metrics
