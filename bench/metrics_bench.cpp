// Metrics hot paths: one histogram observation (against a plain relaxed atomic increment), with and
// without its exemplar, one native histogram observation, one request observation through
// app::RequestMetrics (classic, native and exemplar), and rendering /metrics as main() registers it, in
// text, OpenMetrics and protobuf.
#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "app/request_metrics.h"
#include "http/method.h"
#include "http/router.h"
#include "metrics/format.h"
#include "metrics/histogram.h"
#include "metrics/native_histogram.h"
#include "metrics/process_metrics.h"
#include "metrics/registry.h"

namespace {

// Request durations as a service answering from memory sees them: mostly tens of microseconds, a tail
// into milliseconds. Fixed pseudo-random values, so every run observes the same sequence.
std::array<double, 1024> sample_durations() {
  std::array<double, 1024> values{};
  std::uint32_t x = 2463534242u;
  for (double& value : values) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    const double uniform = static_cast<double>(x) / 4294967296.0;
    value = 20e-6 * std::exp(5.0 * uniform * uniform * uniform);  // 20 µs .. 3 ms, skewed low
  }
  return values;
}

const std::array<double, 1024> kDurations = sample_durations();

// A request id as the service hands it to the metrics: a trace-id, zero-padded to the slot size.
constexpr char kPaddedId[metrics::kExemplarIdBytes] = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr std::span<const char, metrics::kExemplarIdBytes> kId(kPaddedId);

// Reference: the cheapest shared counter update an instrumented server could make per request.
void BM_RelaxedFetchAdd(benchmark::State& state) {
  std::atomic<std::uint64_t> counter{0};
  for (auto _ : state) {
    counter.fetch_add(1, std::memory_order_relaxed);
  }
  benchmark::DoNotOptimize(counter.load(std::memory_order_relaxed));
}
BENCHMARK(BM_RelaxedFetchAdd)->Name("metrics/atomic_fetch_add_reference");

void BM_HistogramObserve(benchmark::State& state) {
  // The request metrics' shape: 768 series, default buckets, one shard per thread. Shared by the threads of
  // the two-thread run, each writing its own shard, as the event loops do.
  static metrics::ShardedHistogram histogram(metrics::default_duration_buckets(), 768, 2);
  const auto shard = static_cast<std::size_t>(state.thread_index());
  std::size_t i = 0;
  for (auto _ : state) {
    histogram.observe(shard, 17, kDurations[i++ & 1023]);
  }
}
// Threads(2): each thread writes its own shard, so the CPU time per observation must not grow.
BENCHMARK(BM_HistogramObserve)->Name("metrics/histogram_observe")->Threads(1)->Threads(2);

void BM_RequestMetricsObserve(benchmark::State& state) {
  app::RequestMetrics request_metrics(metrics::default_duration_buckets(), 1);
  const auto bucket_route = static_cast<std::size_t>(http::Route::kBucket);
  std::size_t i = 0;
  for (auto _ : state) {
    request_metrics.observe(0, http::Method::kGet, bucket_route, 200, kDurations[i++ & 1023]);
  }
}
BENCHMARK(BM_RequestMetricsObserve)->Name("metrics/request_metrics_observe");

// The same histogram with exemplar slots, each observation also replacing its bucket's exemplar.
void BM_HistogramObserveExemplar(benchmark::State& state) {
  static metrics::ShardedHistogram histogram(metrics::default_duration_buckets(), 768, 2, true);
  const auto shard = static_cast<std::size_t>(state.thread_index());
  std::size_t i = 0;
  std::int64_t now = 1'700'000'000'000'000'000;
  for (auto _ : state) {
    histogram.observe(shard, 17, kDurations[i++ & 1023], kId, ++now);
  }
}
BENCHMARK(BM_HistogramObserveExemplar)->Name("metrics/histogram_observe_exemplar")->Threads(1)->Threads(2);

// The native histogram's share of an observation: the bucket key from the double's bits, one increment.
void BM_NativeHistogramObserve(benchmark::State& state) {
  static metrics::NativeHistogram histogram(metrics::NativeHistogramOptions(), 768, 2);
  const auto shard = static_cast<std::size_t>(state.thread_index());
  std::size_t i = 0;
  for (auto _ : state) {
    histogram.observe(shard, 17, kDurations[i++ & 1023]);
  }
}
BENCHMARK(BM_NativeHistogramObserve)->Name("metrics/native_histogram_observe")->Threads(1)->Threads(2);

// One whole observation as the target counts it: the classic buckets, the bucket's exemplar and the
// native histogram, for the same series (to compare with metrics/histogram_observe in the same run).
void BM_ObserveClassicNativeExemplar(benchmark::State& state) {
  static metrics::ShardedHistogram histogram(metrics::default_duration_buckets(), 768, 2, true);
  static metrics::NativeHistogram native(metrics::NativeHistogramOptions(), 768, 2);
  const auto shard = static_cast<std::size_t>(state.thread_index());
  std::size_t i = 0;
  std::int64_t now = 1'700'000'000'000'000'000;
  for (auto _ : state) {
    const double value = kDurations[i++ & 1023];
    // As RequestMetrics does it: the native cell's address first, then the stores.
    std::uint64_t* const native_cell = native.cell_for(shard, 17, value);
    histogram.observe(shard, 17, value, kId, ++now);
    metrics::NativeHistogram::increment(native_cell);
  }
}
BENCHMARK(BM_ObserveClassicNativeExemplar)->Name("metrics/observe_classic_native_exemplar")->Threads(1)->Threads(2);

// What the service does per request: labels to series, the classic and native observations and the exemplar (request id and
// the steady-clock reading the duration was measured with, turned into wall-clock time).
void BM_RequestMetricsObserveExemplar(benchmark::State& state) {
  app::RequestMetrics request_metrics(metrics::default_duration_buckets(), 1);
  const auto bucket_route = static_cast<std::size_t>(http::Route::kBucket);
  const auto now = std::chrono::steady_clock::now();
  std::size_t i = 0;
  for (auto _ : state) {
    request_metrics.observe(0, http::Method::kGet, bucket_route, 200, kDurations[i & 1023], kId,
                            now + std::chrono::nanoseconds(i));
    ++i;
  }
}
BENCHMARK(BM_RequestMetricsObserveExemplar)->Name("metrics/request_metrics_observe_exemplar");

struct ObservedSeries {
  http::Method method;
  std::size_t path;
  int status;
};

// The series a production instance shows after a day: every answer the routes give, the refusals clients
// provoke, probes and scrapes. About 30 series.
std::vector<ObservedSeries> realistic_series() {
  const auto bucket = static_cast<std::size_t>(http::Route::kBucket);
  const auto metrics_route = static_cast<std::size_t>(http::Route::kMetrics);
  const auto healthz = static_cast<std::size_t>(http::Route::kHealthz);
  const auto readyz = static_cast<std::size_t>(http::Route::kReadyz);
  const auto unmatched = static_cast<std::size_t>(http::Route::kUnmatched);
  const auto unparsed = app::RequestMetrics::kUnparsedPath;
  using http::Method;
  return {
      {Method::kGet, bucket, 200},       {Method::kGet, bucket, 404},       {Method::kGet, bucket, 400},
      {Method::kHead, bucket, 200},      {Method::kHead, bucket, 404},      {Method::kPut, bucket, 200},
      {Method::kPut, bucket, 400},       {Method::kPut, bucket, 408},       {Method::kPut, bucket, 411},
      {Method::kPut, bucket, 413},       {Method::kPut, bucket, 417},       {Method::kPut, bucket, 507},
      {Method::kDelete, bucket, 200},    {Method::kDelete, bucket, 400},    {Method::kPost, bucket, 405},
      {Method::kPatch, bucket, 405},     {Method::kGet, metrics_route, 200}, {Method::kGet, healthz, 200},
      {Method::kGet, readyz, 200},       {Method::kGet, readyz, 503},       {Method::kGet, unmatched, 404},
      {Method::kHead, unmatched, 404},   {Method::kPost, unmatched, 404},   {Method::kPut, unmatched, 404},
      {Method::kOptions, unmatched, 404}, {Method::kUnknown, unmatched, 501}, {Method::kUnknown, unparsed, 400},
      {Method::kUnknown, unparsed, 408}, {Method::kUnknown, unparsed, 414}, {Method::kUnknown, unparsed, 431},
      {Method::kUnknown, unparsed, 505},
  };
}

std::vector<ObservedSeries> every_series() {
  constexpr std::array<http::Method, 8> kMethods = {http::Method::kGet,  http::Method::kHead,   http::Method::kPut,
                                                    http::Method::kDelete, http::Method::kPost, http::Method::kOptions,
                                                    http::Method::kPatch,  http::Method::kUnknown};
  constexpr std::array<int, 16> kStatuses = {200, 400, 404, 405, 408, 411, 413, 414,
                                             417, 431, 500, 501, 503, 505, 507, 599};
  std::vector<ObservedSeries> all;
  for (const http::Method method : kMethods) {
    for (std::size_t path = 0; path <= app::RequestMetrics::kUnparsedPath; ++path) {
      for (const int status : kStatuses) all.push_back({method, path, status});
    }
  }
  return all;
}

// The registry main() builds, with fixed values where main() reads live ones.
class ScrapeFixture {
 public:
  explicit ScrapeFixture(const std::vector<ObservedSeries>& series)
      : request_metrics_(metrics::default_duration_buckets(), 2) {
    std::size_t i = 0;
    for (const ObservedSeries& s : series) {
      for (std::size_t shard = 0; shard < 2; ++shard) {
        for (int n = 0; n < 50; ++n) {
          // Request ids as the service generates them, so every observed bucket has an exemplar.
          request_metrics_.observe(shard, s.method, s.path, s.status, kDurations[i & 1023], kId,
                                   std::chrono::steady_clock::now());
          ++i;
        }
      }
    }
    registry_.add(request_metrics_);
    for (const metrics::CallbackGauge& gauge : gauges_) registry_.add(gauge);
    registry_.add(build_info_);
    registry_.add(process_);
    registry_.set_created(1'700'000'000);
  }
  const metrics::Registry& registry() const noexcept { return registry_; }
  const app::RequestMetrics& request_metrics() const noexcept { return request_metrics_; }
  const metrics::ProcessCollector& process() const noexcept { return process_; }

 private:
  app::RequestMetrics request_metrics_;
  std::array<metrics::CallbackGauge, 6> gauges_{
      metrics::CallbackGauge("http_connections_open", "Client connections currently open.", [] { return 64.0; }),
      metrics::CallbackGauge("http_connections_rejected_total",
                             "Connections closed at accept because of the connection limit or a lack of file "
                             "descriptors.",
                             [] { return 0.0; }, metrics::MetricType::kCounter),
      metrics::CallbackGauge("storage_api_buckets", "Buckets currently stored.", [] { return 1234.0; }),
      metrics::CallbackGauge("storage_api_stored_bytes", "Sum of the sizes of all stored bucket values.",
                             [] { return 5678901.0; }),
      metrics::CallbackGauge("storage_api_storage_capacity_bytes",
                             "Configured cap on stored bytes; puts beyond it are answered 507.",
                             [] { return 1073741824.0; }),
      metrics::CallbackGauge("storage_api_log_lines_dropped_total",
                             "Log lines dropped because stderr could not keep up (queue full) or failed.",
                             [] { return 0.0; }, metrics::MetricType::kCounter),
  };
  metrics::InfoGauge build_info_{"storage_api_build_info", "Build information; the value is always 1.",
                                 {{"version", "1.0.0"}}};
  metrics::ProcessCollector process_;
  metrics::Registry registry_;
};

// Renders into a buffer whose capacity is kept between scrapes, as the service does.
template <typename Render>
void render_loop(benchmark::State& state, Render render) {
  std::string out;
  for (auto _ : state) {
    out.clear();
    render(out);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["bytes"] = static_cast<double>(out.size());
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
}

void BM_RenderMetricsRealistic(benchmark::State& state) {
  const ScrapeFixture fixture(realistic_series());
  render_loop(state, [&fixture](std::string& out) { fixture.registry().render(out); });
}
BENCHMARK(BM_RenderMetricsRealistic)->Name("scrape/render_realistic_31_series")->Unit(benchmark::kMicrosecond);

// The same page in OpenMetrics: _created lines, UNIT, and an exemplar on every bucket observed.
void BM_RenderOpenMetricsRealistic(benchmark::State& state) {
  const ScrapeFixture fixture(realistic_series());
  render_loop(state, [&fixture](std::string& out) { fixture.registry().render(out, metrics::Format::kOpenMetrics); });
}
BENCHMARK(BM_RenderOpenMetricsRealistic)
    ->Name("scrape/render_openmetrics_realistic_31_series")
    ->Unit(benchmark::kMicrosecond);

void BM_RenderMetricsEverySeries(benchmark::State& state) {
  const ScrapeFixture fixture(every_series());
  render_loop(state, [&fixture](std::string& out) { fixture.registry().render(out); });
}
BENCHMARK(BM_RenderMetricsEverySeries)->Name("scrape/render_all_768_series")->Unit(benchmark::kMicrosecond);

void BM_RenderOpenMetricsEverySeries(benchmark::State& state) {
  const ScrapeFixture fixture(every_series());
  render_loop(state, [&fixture](std::string& out) { fixture.registry().render(out, metrics::Format::kOpenMetrics); });
}
BENCHMARK(BM_RenderOpenMetricsEverySeries)
    ->Name("scrape/render_openmetrics_all_768_series")
    ->Unit(benchmark::kMicrosecond);

// Protobuf: classic buckets with exemplars, and each series' native histogram collected and encoded.
void BM_RenderProtobufRealistic(benchmark::State& state) {
  const ScrapeFixture fixture(realistic_series());
  render_loop(state, [&fixture](std::string& out) { fixture.registry().render(out, metrics::Format::kProtobuf); });
}
BENCHMARK(BM_RenderProtobufRealistic)->Name("scrape/render_protobuf_realistic_31_series")->Unit(benchmark::kMicrosecond);

void BM_RenderProtobufEverySeries(benchmark::State& state) {
  const ScrapeFixture fixture(every_series());
  render_loop(state, [&fixture](std::string& out) { fixture.registry().render(out, metrics::Format::kProtobuf); });
}
BENCHMARK(BM_RenderProtobufEverySeries)->Name("scrape/render_protobuf_all_768_series")->Unit(benchmark::kMicrosecond);

// Choosing the format from Prometheus 3's Accept header, as every scrape does.
void BM_NegotiateFormat(benchmark::State& state) {
  constexpr std::string_view kAccept =
      "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
      "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,"
      "text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
  for (auto _ : state) {
    benchmark::DoNotOptimize(metrics::negotiate_format(kAccept, false));
  }
}
BENCHMARK(BM_NegotiateFormat)->Name("scrape/negotiate_prometheus3_accept");

// The parts: the histogram family alone, and the /proc reads alone.
void BM_CollectRequestMetrics(benchmark::State& state) {
  const ScrapeFixture fixture(realistic_series());
  render_loop(state, [&fixture](std::string& out) {
    metrics::TextWriter writer(out);
    fixture.request_metrics().collect(writer);
  });
}
BENCHMARK(BM_CollectRequestMetrics)->Name("scrape/request_metrics_only_31_series")->Unit(benchmark::kMicrosecond);

void BM_CollectProcess(benchmark::State& state) {
  const ScrapeFixture fixture({});
  render_loop(state, [&fixture](std::string& out) {
    metrics::TextWriter writer(out);
    fixture.process().collect(writer);
  });
}
BENCHMARK(BM_CollectProcess)->Name("scrape/process_collector_only")->Unit(benchmark::kMicrosecond);

}  // namespace
