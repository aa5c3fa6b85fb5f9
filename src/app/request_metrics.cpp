#include "app/request_metrics.h"

#include <algorithm>
#include <charconv>

namespace app {

static_assert(http::kMaxRequestIdBytes == metrics::kExemplarIdBytes, "every request id fits an exemplar slot");

namespace {

constexpr std::array<std::string_view, 8> kMethodLabels = {"GET", "HEAD", "PUT", "DELETE", "POST", "OPTIONS", "PATCH", "other"};
constexpr std::size_t kOtherMethod = kMethodLabels.size() - 1;
constexpr std::size_t kPathCount = http::kRouteCount + 1;
// Every status the service can answer; anything else (none today) shares the last slot.
constexpr std::array<int, 21> kStatuses = {200, 206, 304, 400, 401, 404, 405, 408, 411, 412, 413,
                                          414, 416, 417, 431, 500, 501, 503, 505, 507, 0};
constexpr std::size_t kOtherStatus = kStatuses.size() - 1;

// The label order follows the enum's first seven values, so the index is the enum clamped to "other".
static_assert(static_cast<std::size_t>(http::Method::kGet) == 0 && static_cast<std::size_t>(http::Method::kHead) == 1 &&
              static_cast<std::size_t>(http::Method::kPut) == 2 && static_cast<std::size_t>(http::Method::kDelete) == 3 &&
              static_cast<std::size_t>(http::Method::kPost) == 4 &&
              static_cast<std::size_t>(http::Method::kOptions) == 5 &&
              static_cast<std::size_t>(http::Method::kPatch) == 6);
std::size_t method_index(http::Method method) noexcept {
  return std::min(static_cast<std::size_t>(method), kOtherMethod);
}

// Status code to label slot, one byte per code below 600: a load instead of a search on every request.
constexpr std::size_t kStatusTableSize = 600;
constexpr std::array<std::uint8_t, kStatusTableSize> kStatusSlots = [] {
  std::array<std::uint8_t, kStatusTableSize> slots{};
  slots.fill(static_cast<std::uint8_t>(kOtherStatus));
  for (std::size_t i = 0; i < kOtherStatus; ++i) slots[static_cast<std::size_t>(kStatuses[i])] = static_cast<std::uint8_t>(i);
  return slots;
}();

std::size_t status_index(int status) noexcept {
  const auto code = static_cast<std::size_t>(status);  // a negative status wraps far past the table
  return code < kStatusTableSize ? kStatusSlots.data()[code] : kOtherStatus;
}

}  // namespace

RequestMetrics::RequestMetrics(std::vector<double> buckets, std::size_t shards,
                               const metrics::NativeHistogramOptions& native)
    : histogram_(std::move(buckets), kMethodLabels.size() * kPathCount * kStatuses.size(), shards, true),
      native_(native, kMethodLabels.size() * kPathCount * kStatuses.size(), shards),
      bound_texts_(metrics::format_bucket_bounds(histogram_.upper_bounds())),
      in_flight_(std::make_unique<InFlight[]>(shards)),
      shards_(shards),
      steady_to_unix_nanos_(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                std::chrono::system_clock::now().time_since_epoch() -
                                std::chrono::steady_clock::now().time_since_epoch())
                                .count()) {}

RequestMetrics::~RequestMetrics() = default;

std::string_view RequestMetrics::path_label(std::size_t path) noexcept {
  return path == kUnparsedPath ? "unparsed" : http::route_label(static_cast<http::Route>(path));
}

std::size_t RequestMetrics::series_index(std::size_t method, std::size_t path, std::size_t status) const noexcept {
  return (method * kPathCount + path) * kStatuses.size() + status;
}

void RequestMetrics::observe(std::size_t shard, http::Method method, std::size_t path, int status,
                             double seconds) noexcept {
  const std::size_t series = series_index(method_index(method), std::min(path, kUnparsedPath), status_index(status));
  std::uint64_t* const native_cell = native_.cell_for(shard, series, seconds);
  histogram_.observe(shard, series, seconds);
  metrics::NativeHistogram::increment(native_cell);
}

void RequestMetrics::observe(std::size_t shard, http::Method method, std::size_t path, int status, double seconds,
                             std::span<const char, metrics::kExemplarIdBytes> request_id,
                             std::chrono::steady_clock::time_point now) noexcept {
  const std::int64_t unix_nanos =
      std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count() + steady_to_unix_nanos_;
  const std::size_t series = series_index(method_index(method), std::min(path, kUnparsedPath), status_index(status));
  std::uint64_t* const native_cell = native_.cell_for(shard, series, seconds);  // before the classic stores
  histogram_.observe(shard, series, seconds, request_id, unix_nanos);
  metrics::NativeHistogram::increment(native_cell);
}

// One writer per shard: a plain load/store pair is enough and avoids a locked instruction.
void RequestMetrics::request_started(std::size_t shard) noexcept {
  auto& v = in_flight_[shard].value;
  v.store(v.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

void RequestMetrics::request_ended(std::size_t shard) noexcept {
  auto& v = in_flight_[shard].value;
  v.store(v.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
}

void RequestMetrics::collect(metrics::TextWriter& out) const {
  constexpr std::string_view kName = "http_request_duration_seconds";
  out.family(kName, "Time from the first byte of a request to its response being queued, by route template.",
             metrics::MetricType::kHistogram);
  metrics::ShardedHistogram::Snapshot snapshot;
  metrics::NativeSnapshot native;
  const bool with_native = out.protobuf();  // only protobuf can carry it
  char status_text[8];
  for (std::size_t m = 0; m < kMethodLabels.size(); ++m) {
    for (std::size_t p = 0; p < kPathCount; ++p) {
      for (std::size_t s = 0; s < kStatuses.size(); ++s) {
        const std::size_t series = series_index(m, p, s);
        if (histogram_.count(series) == 0) continue;
        histogram_.collect(series, snapshot);
        std::string_view status = "other";
        if (s != kOtherStatus) {
          const auto end = std::to_chars(status_text, status_text + sizeof status_text, kStatuses[s]).ptr;
          status = std::string_view(status_text, static_cast<std::size_t>(end - status_text));
        }
        const metrics::Label labels[] = {{"method", kMethodLabels[m]}, {"path", path_label(p)}, {"status", status}};
        if (with_native) native_.collect(series, native);
        metrics::write_histogram_series(out, kName, labels, snapshot, bound_texts_, with_native ? &native : nullptr);
      }
    }
  }

  std::int64_t in_flight = 0;
  for (std::size_t i = 0; i < shards_; ++i) in_flight += in_flight_[i].value.load(std::memory_order_relaxed);
  out.family("http_requests_in_flight", "Requests whose head has arrived and whose response is not yet queued.",
             metrics::MetricType::kGauge);
  out.sample("http_requests_in_flight", {}, static_cast<double>(in_flight));
}

}  // namespace app
