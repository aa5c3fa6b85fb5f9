#pragma once
// RequestMetrics: http_request_duration_seconds{method,path,status} and http_requests_in_flight.
//
// The label space is closed so no client can grow it: method is one of GET HEAD PUT DELETE POST OPTIONS PATCH
// or "other"; path is a route template, "unmatched" for any other path, or "unparsed" when the request head
// could not be parsed; status is one of the statuses the service answers. Each event-loop thread observes
// into its own shard without locks; collect() renders only the series that have been observed.
//
// Each observation also goes into a native histogram (exponential buckets; see native_histogram.h), which
// only protobuf scrapes carry, next to the classic buckets that every format has.
//
// An observation may carry the request's id, which becomes its bucket's exemplar (trace_id, the duration,
// the time): OpenMetrics scrapes show it, so a slow bucket leads to the request's access log line. The
// exemplar's wall-clock time is the steady clock's reading plus the offset between the clocks taken at
// construction: no second clock read per request (a wall clock stepped later shifts exemplars, not
// durations).
#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "http/method.h"
#include "http/request_id.h"
#include "http/router.h"
#include "metrics/histogram.h"
#include "metrics/native_histogram.h"
#include "metrics/registry.h"

namespace app {

class RequestMetrics final : public metrics::Collector {
 public:
  // "unparsed" follows the router's routes in the path label space.
  static constexpr std::size_t kUnparsedPath = http::kRouteCount;

  RequestMetrics(std::vector<double> buckets, std::size_t shards,
                 const metrics::NativeHistogramOptions& native = metrics::NativeHistogramOptions());
  ~RequestMetrics() override;

  void observe(std::size_t shard, http::Method method, std::size_t path, int status, double seconds) noexcept;
  // `now` is the steady-clock time the duration was measured at; `request_id` is zero-padded, as
  // http::RequestId::padded() gives it (all zeros: no exemplar).
  void observe(std::size_t shard, http::Method method, std::size_t path, int status, double seconds,
               std::span<const char, metrics::kExemplarIdBytes> request_id,
               std::chrono::steady_clock::time_point now) noexcept;
  void request_started(std::size_t shard) noexcept;
  void request_ended(std::size_t shard) noexcept;

  void collect(metrics::TextWriter& out) const override;

  static std::string_view path_label(std::size_t path) noexcept;

 private:
  struct alignas(64) InFlight {
    std::atomic<std::int64_t> value{0};
  };
  std::size_t series_index(std::size_t method, std::size_t path, std::size_t status) const noexcept;

  metrics::ShardedHistogram histogram_;
  metrics::NativeHistogram native_;  // the same observations in exponential buckets, for protobuf scrapes
  std::vector<std::string> bound_texts_;  // le values, formatted once
  std::unique_ptr<InFlight[]> in_flight_;
  std::size_t shards_;
  std::int64_t steady_to_unix_nanos_;  // system_clock - steady_clock, at construction
};

}  // namespace app
