// TextWriter's protobuf half: io.prometheus.client.MetricFamily messages (metrics.proto of client_model),
// length-delimited, hand-encoded with ProtoWriter. Field numbers are the schema's.
#include <charconv>
#include <cmath>
#include <limits>

#include "metrics/exposition.h"

namespace metrics {

namespace {

// MetricFamily
constexpr std::uint32_t kFamilyName = 1, kFamilyHelp = 2, kFamilyType = 3, kFamilyMetric = 4, kFamilyUnit = 5;
// MetricType
constexpr std::uint64_t kCounterType = 0, kGaugeType = 1, kUntypedType = 3, kHistogramType = 4;
// Metric
constexpr std::uint32_t kMetricLabel = 1, kMetricGauge = 2, kMetricCounter = 3, kMetricUntyped = 5,
                        kMetricHistogram = 7;
// LabelPair, Gauge / Counter / Untyped, Timestamp, Exemplar
constexpr std::uint32_t kLabelName = 1, kLabelValue = 2;
constexpr std::uint32_t kValue = 1, kCounterCreated = 3;
constexpr std::uint32_t kSeconds = 1, kNanos = 2;
constexpr std::uint32_t kExemplarLabel = 1, kExemplarValue = 2, kExemplarTimestamp = 3;
// Histogram and Bucket
constexpr std::uint32_t kSampleCount = 1, kSampleSum = 2, kBucket = 3, kSchema = 5, kZeroThreshold = 6,
                        kZeroCount = 7, kPositiveSpan = 12, kPositiveDelta = 13, kHistogramCreated = 15;
constexpr std::uint32_t kCumulativeCount = 1, kUpperBound = 2, kBucketExemplar = 3;
constexpr std::uint32_t kSpanOffset = 1, kSpanLength = 2;

std::uint64_t type_code(MetricType type) noexcept {
  switch (type) {
    case MetricType::kCounter: return kCounterType;
    case MetricType::kGauge: return kGaugeType;
    case MetricType::kHistogram: return kHistogramType;
    case MetricType::kUntyped: break;
  }
  return kUntypedType;
}

// The units OpenMetrics would announce, for MetricFamily.unit.
std::string_view unit_of(std::string_view name) noexcept {
  if (name.ends_with("_total")) name.remove_suffix(6);
  for (const std::string_view unit : {"seconds", "bytes"}) {
    if (name.size() > unit.size() && name.ends_with(unit) && name[name.size() - unit.size() - 1] == '_') return unit;
  }
  return {};
}

double bound_value(const std::string& text) noexcept {
  if (text == "+Inf") return std::numeric_limits<double>::infinity();
  double value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

}  // namespace

void TextWriter::proto_family(std::string_view name, std::string_view help, MetricType type) {
  if (family_open_) proto_.end();
  parsed_texts_ = nullptr;  // bounds are shared within a family only
  proto_.begin_delimited();
  family_open_ = true;
  proto_.string_field(kFamilyName, name);
  if (!help.empty()) proto_.string_field(kFamilyHelp, help);
  proto_.varint_field(kFamilyType, type_code(type));
  if (const std::string_view unit = unit_of(name); !unit.empty()) proto_.string_field(kFamilyUnit, unit);
}

void TextWriter::proto_labels(std::span<const Label> labels) {
  for (const Label& label : labels) {
    proto_.begin(kMetricLabel);
    proto_.string_field(kLabelName, label.name);
    proto_.string_field(kLabelValue, label.value);
    proto_.end();
  }
}

void TextWriter::proto_timestamp(std::uint32_t field, double unix_seconds) {
  const double whole = std::floor(unix_seconds);
  proto_.begin(field);
  proto_.varint_field(kSeconds, static_cast<std::uint64_t>(whole));
  const auto nanos = static_cast<std::uint64_t>((unix_seconds - whole) * 1e9);
  if (nanos != 0) proto_.varint_field(kNanos, std::min<std::uint64_t>(nanos, 999'999'999));
  proto_.end();
}

void TextWriter::proto_sample(std::span<const Label> labels, double value) {
  if (!family_open_) return;  // a sample outside any family has no message to go in
  proto_.begin(kFamilyMetric);
  proto_labels(labels);
  const std::uint32_t field = type_ == MetricType::kCounter ? kMetricCounter
                              : type_ == MetricType::kGauge ? kMetricGauge
                                                            : kMetricUntyped;
  proto_.begin(field);
  proto_.double_field(kValue, value);
  if (type_ == MetricType::kCounter && created_seconds_ > 0) proto_timestamp(kCounterCreated, created_seconds_);
  proto_.end();
  proto_.end();
}

void TextWriter::proto_histogram(std::span<const Label> labels, const ShardedHistogram::Snapshot& snapshot,
                                 std::span<const std::string> bound_texts, const NativeSnapshot* native) {
  if (!family_open_) return;
  proto_.begin(kFamilyMetric);
  proto_labels(labels);
  proto_.begin(kMetricHistogram);
  // A scrape racing with writers may see the native buckets a little ahead of the classic count, and
  // Prometheus refuses a native histogram whose buckets hold more than its count.
  std::uint64_t count = snapshot.count;
  if (native != nullptr) count = std::max(count, native->bucket_total);
  proto_.varint_field(kSampleCount, count);
  proto_.double_field(kSampleSum, snapshot.sum);
  const std::size_t buckets = std::min(bound_texts.size(), snapshot.cumulative.size());
  if (parsed_texts_ != bound_texts.data() || parsed_bounds_.size() != bound_texts.size()) {
    parsed_bounds_.clear();
    for (const std::string& text : bound_texts) parsed_bounds_.push_back(bound_value(text));
    parsed_texts_ = bound_texts.data();
  }
  for (std::size_t i = 0; i < buckets; ++i) {
    const bool infinite = i + 1 == buckets;
    const bool has_exemplar = i < snapshot.exemplars.size() && snapshot.exemplars[i].id_length > 0;
    // +Inf is implied by the count; it is written only to carry its exemplar, as client_golang does.
    if (infinite && !has_exemplar) break;
    proto_.begin(kBucket);
    proto_.varint_field(kCumulativeCount, infinite ? count : snapshot.cumulative[i]);
    proto_.double_field(kUpperBound, parsed_bounds_[i]);
    if (has_exemplar) {
      const Exemplar& exemplar = snapshot.exemplars[i];
      proto_.begin(kBucketExemplar);
      proto_.begin(kExemplarLabel);
      proto_.string_field(kLabelName, "trace_id");
      proto_.string_field(kLabelValue, exemplar.trace_id());
      proto_.end();
      proto_.double_field(kExemplarValue, exemplar.value);
      proto_.begin(kExemplarTimestamp);
      proto_.varint_field(kSeconds, static_cast<std::uint64_t>(exemplar.unix_nanos / 1'000'000'000));
      proto_.varint_field(kNanos, static_cast<std::uint64_t>(exemplar.unix_nanos % 1'000'000'000));
      proto_.end();
      proto_.end();
    }
    proto_.end();
  }
  if (native != nullptr) {
    proto_.sint_field(kSchema, native->schema);
    proto_.double_field(kZeroThreshold, native->zero_threshold);
    proto_.varint_field(kZeroCount, native->zero_count);
    for (const NativeSnapshot::Span& span : native->spans) {
      proto_.begin(kPositiveSpan);
      proto_.sint_field(kSpanOffset, span.offset);
      proto_.varint_field(kSpanLength, span.length);
      proto_.end();
    }
    proto_.packed_sint_field(kPositiveDelta, native->deltas.data(), native->deltas.size());
  }
  if (created_seconds_ > 0) proto_timestamp(kHistogramCreated, created_seconds_);
  proto_.end();
  proto_.end();
}

}  // namespace metrics
