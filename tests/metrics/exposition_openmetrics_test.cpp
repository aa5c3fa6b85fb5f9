// OpenMetrics 1.0 text from TextWriter and Registry, against golden text.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "metrics/exposition.h"
#include "metrics/histogram.h"
#include "metrics/registry.h"

namespace metrics {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

TEST(OpenMetricsWriter, CounterFamiliesDropTotalAndSamplesKeepIt) {
  std::string out;
  TextWriter writer(out, Format::kOpenMetrics);
  writer.family("http_connections_rejected_total", "Connections \"rejected\".\nSecond line \\.",
                MetricType::kCounter);
  writer.sample("http_connections_rejected_total", {}, 3);
  writer.sample("http_connections_rejected_total", {{"reason", "limit"}}, 1);
  writer.finish();
  EXPECT_EQ(out,
            "# HELP http_connections_rejected Connections \\\"rejected\\\".\\nSecond line \\\\.\n"
            "# TYPE http_connections_rejected counter\n"
            "http_connections_rejected_total 3\n"
            "http_connections_rejected_total{reason=\"limit\"} 1\n"
            "# EOF\n");
}

TEST(OpenMetricsWriter, CountersGetCreatedWhenTheWriterKnowsTheStart) {
  std::string out;
  TextWriter writer(out, Format::kOpenMetrics, 1764620000.5);
  writer.family("storage_api_refusals_total", "Refusals.", MetricType::kCounter);
  writer.sample("storage_api_refusals_total", {{"reason", "body_budget"}}, 7);
  writer.family("storage_api_buckets", "Buckets.", MetricType::kGauge);
  writer.sample("storage_api_buckets", {}, 12);
  EXPECT_EQ(out,
            "# HELP storage_api_refusals Refusals.\n"
            "# TYPE storage_api_refusals counter\n"
            "storage_api_refusals_total{reason=\"body_budget\"} 7\n"
            "storage_api_refusals_created{reason=\"body_budget\"} 1764620000.5\n"
            "# HELP storage_api_buckets Buckets.\n"
            "# TYPE storage_api_buckets gauge\n"
            "storage_api_buckets 12\n");
}

TEST(OpenMetricsWriter, UnitsFromTheNameAndUnknownType) {
  std::string out;
  TextWriter writer(out, Format::kOpenMetrics);
  writer.family("process_cpu_seconds_total", "CPU.", MetricType::kCounter);
  writer.family("storage_api_stored_bytes", "Bytes.", MetricType::kGauge);
  writer.family("bytes", "Not a unit: the whole name.", MetricType::kGauge);
  writer.family("legacy", "Untyped.", MetricType::kUntyped);
  EXPECT_EQ(out,
            "# HELP process_cpu_seconds CPU.\n"
            "# TYPE process_cpu_seconds counter\n"
            "# UNIT process_cpu_seconds seconds\n"
            "# HELP storage_api_stored_bytes Bytes.\n"
            "# TYPE storage_api_stored_bytes gauge\n"
            "# UNIT storage_api_stored_bytes bytes\n"
            "# HELP bytes Not a unit: the whole name.\n"
            "# TYPE bytes gauge\n"
            "# HELP legacy Untyped.\n"
            "# TYPE legacy unknown\n");
}

TEST(OpenMetricsWriter, TextFormatIsUnchanged) {
  std::string out;
  TextWriter writer(out, Format::kText, 1764620000);
  writer.family("c_total", "Help \"q\".", MetricType::kCounter);
  writer.sample("c_total", {}, 1);
  writer.family("d_seconds", "D.", MetricType::kUntyped);
  writer.finish();
  EXPECT_EQ(out,
            "# HELP c_total Help \"q\".\n"
            "# TYPE c_total counter\n"
            "c_total 1\n"
            "# HELP d_seconds D.\n"
            "# TYPE d_seconds untyped\n");
}

TEST(OpenMetricsWriter, HistogramWithExemplarsAndCreated) {
  ShardedHistogram histogram({0.005, 0.1, 1}, 1, 2, true);
  histogram.observe(0, 0, 0.00390625, "4bf92f3577b34da6a3ce929d0e0e4736", 1764620001 * kSecond + 250'000'000);
  histogram.observe(1, 0, 0.0048828125, "req-2", 1764620002 * kSecond);  // newer, same bucket, other shard: wins
  histogram.observe(0, 0, 0.0625);                                   // no exemplar for 0.1
  histogram.observe(1, 0, 7, "slow\"one", 1764620003 * kSecond + 7'000'000);

  std::string out;
  TextWriter writer(out, Format::kOpenMetrics, 1764620000);
  writer.family("http_request_duration_seconds", "Latency.", MetricType::kHistogram);
  ShardedHistogram::Snapshot snapshot;
  histogram.collect(0, snapshot);
  const std::vector<Label> labels = {{"method", "GET"}};
  write_histogram_series(writer, "http_request_duration_seconds", labels, snapshot, histogram.upper_bounds());
  writer.finish();
  EXPECT_EQ(out,
            "# HELP http_request_duration_seconds Latency.\n"
            "# TYPE http_request_duration_seconds histogram\n"
            "# UNIT http_request_duration_seconds seconds\n"
            "http_request_duration_seconds_bucket{method=\"GET\",le=\"0.005\"} 2 # {trace_id=\"req-2\"} 0.0048828125 "
            "1764620002.000\n"
            "http_request_duration_seconds_bucket{method=\"GET\",le=\"0.1\"} 3\n"
            "http_request_duration_seconds_bucket{method=\"GET\",le=\"1\"} 3\n"
            "http_request_duration_seconds_bucket{method=\"GET\",le=\"+Inf\"} 4 # {trace_id=\"slow\\\"one\"} 7 "
            "1764620003.007\n"
            "http_request_duration_seconds_sum{method=\"GET\"} 7.0712890625\n"
            "http_request_duration_seconds_count{method=\"GET\"} 4\n"
            "http_request_duration_seconds_created{method=\"GET\"} 1764620000\n"
            "# EOF\n");

  // The same snapshot in text 0.0.4: no exemplar, no _created.
  out.clear();
  TextWriter text(out, Format::kText, 1764620000);
  write_histogram_series(text, "h", {}, snapshot, histogram.upper_bounds());
  EXPECT_EQ(out,
            "h_bucket{le=\"0.005\"} 2\nh_bucket{le=\"0.1\"} 3\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 4\n"
            "h_sum 7.0712890625\nh_count 4\n");
}

class FixedCounter final : public Collector {
 public:
  void collect(TextWriter& out) const override {
    out.family("jobs_total", "Jobs.", MetricType::kCounter);
    out.sample("jobs_total", {}, 5);
  }
};

TEST(OpenMetricsRegistry, RendersEitherFormatAndEndsOpenMetricsWithEof) {
  const FixedCounter counter;
  Registry registry;
  registry.add(counter);
  registry.set_created(1700000000);
  std::string out;
  registry.render(out, Format::kOpenMetrics);
  EXPECT_EQ(out,
            "# HELP jobs Jobs.\n# TYPE jobs counter\njobs_total 5\njobs_created 1700000000\n# EOF\n");
  out.clear();
  registry.render(out);
  EXPECT_EQ(out, "# HELP jobs_total Jobs.\n# TYPE jobs_total counter\njobs_total 5\n");
}

}  // namespace
}  // namespace metrics
