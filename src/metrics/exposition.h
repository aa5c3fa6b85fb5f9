#pragma once
// TextWriter: renders metric families into a string, in the Prometheus text format 0.0.4, OpenMetrics
// 1.0 text or delimited protobuf MetricFamily messages; the caller ends the body with finish() (which
// writes OpenMetrics' "# EOF", or closes the last protobuf family).
//
// The caller writes one family at a time: family() emits "# HELP" and "# TYPE", then sample() emits the
// family's samples. Label values escape '\', '"' and newline; HELP text escapes '\' and newline, and '"'
// too in OpenMetrics. Values print as integers when integral (no exponent up to 2^53), as shortest
// round-trip decimals otherwise, and as +Inf, -Inf or NaN. Names and label names are trusted (they come
// from code, never from requests). Counter names end in _total, as both formats' samples do.
//
// OpenMetrics differs where its specification says: a counter family is named without _total; untyped is
// "unknown"; a family whose name ends in _seconds or _bytes gets "# UNIT" with that unit; when the writer
// knows a creation time (the process start: every counter and histogram here starts with the process),
// each counter sample and histogram series is followed by its _created sample; histogram buckets carry
// their exemplar (" # {trace_id=\"...\"} value timestamp"), which text 0.0.4 cannot express.
//
// Protobuf (io.prometheus.client.MetricFamily, each preceded by its varint length): one message per
// family(), named as given (counters keep _total, as client_golang's do), with help, type and unit; every
// sample() and histogram series is one Metric of it, with its labels, created timestamps as above, bucket
// exemplars, and the native histogram's schema, zero bucket, spans and deltas when the caller has one.
// A family's samples must all be of that family (the case everywhere here).
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/format.h"
#include "metrics/histogram.h"
#include "metrics/native_histogram.h"
#include "metrics/protobuf.h"

namespace metrics {

inline constexpr std::string_view kExpositionContentType = kTextContentType;

enum class MetricType { kCounter, kGauge, kHistogram, kUntyped };

struct Label {
  std::string_view name;
  std::string_view value;
};

class TextWriter {
 public:
  // created_seconds: the Unix time every counter and histogram was created at; 0 for no _created samples.
  explicit TextWriter(std::string& out, Format format = Format::kText, double created_seconds = 0) noexcept
      : out_(out),
        open_metrics_(format == Format::kOpenMetrics),
        protobuf_(format == Format::kProtobuf),
        created_seconds_(created_seconds),
        proto_(out) {}

  bool open_metrics() const noexcept { return open_metrics_; }
  bool protobuf() const noexcept { return protobuf_; }
  void family(std::string_view name, std::string_view help, MetricType type);
  void sample(std::string_view name, std::span<const Label> labels, double value);
  void sample(std::string_view name, std::initializer_list<Label> labels, double value) {
    sample(name, std::span<const Label>(labels.begin(), labels.size()), value);
  }
  // Histogram bucket line: labels plus le="<bound>" (bound formatted like a value, +Inf for infinity).
  void bucket(std::string_view name, std::span<const Label> labels, double upper_bound, double cumulative_count);
  void finish();  // "# EOF" in OpenMetrics, the last family's end in protobuf; nothing in text

 private:
  friend void write_histogram_series(TextWriter&, std::string_view, std::span<const Label>,
                                     const ShardedHistogram::Snapshot&, std::span<const std::string>,
                                     const NativeSnapshot*);

  // One sample line "<name><suffix>{labels[,le="<bound>"]} <value>"; the suffix spares histogram series a
  // concatenated name per line.
  void sample_line(std::string_view name, std::string_view suffix, std::span<const Label> labels,
                   const double* upper_bound, double value);
  void created_line(std::string_view base_name, std::span<const Label> labels);
  // Protobuf (exposition_protobuf.cpp).
  void proto_family(std::string_view name, std::string_view help, MetricType type);
  void proto_sample(std::span<const Label> labels, double value);
  void proto_histogram(std::span<const Label> labels, const ShardedHistogram::Snapshot& snapshot,
                       std::span<const std::string> bound_texts, const NativeSnapshot* native);
  void proto_labels(std::span<const Label> labels);
  void proto_timestamp(std::uint32_t field, double unix_seconds);

  std::string& out_;
  bool open_metrics_;
  bool protobuf_;
  double created_seconds_;
  ProtoWriter proto_;
  bool family_open_ = false;  // protobuf: a MetricFamily message awaits its end
  // protobuf: the bucket bounds of the family's histograms, parsed once from the bound texts its series
  // share (forgotten at the next family).
  const std::string* parsed_texts_ = nullptr;
  std::vector<double> parsed_bounds_;
  MetricType type_ = MetricType::kUntyped;  // of the family being written
  std::string series_prefix_;  // scratch for write_histogram_series, reused across series
};

// One series of a histogram family (after family(name, help, MetricType::kHistogram)): the cumulative
// <family>_bucket lines with le ending at +Inf (with the snapshot's exemplars in OpenMetrics), then
// <family>_sum and <family>_count (and _created). upper_bounds are the histogram's finite bounds; the
// snapshot holds one cumulative count per bound plus one for +Inf. In protobuf, `native` (when given) adds
// the series' native histogram to its classic buckets.
void write_histogram_series(TextWriter& out, std::string_view family_name, std::span<const Label> labels,
                            const ShardedHistogram::Snapshot& snapshot, std::span<const double> upper_bounds);

// The le values of a histogram's bounds as rendered, followed by "+Inf": formatted once, for the overload
// below that renders many series of one histogram without formatting the same bounds again for each.
std::vector<std::string> format_bucket_bounds(std::span<const double> upper_bounds);
void write_histogram_series(TextWriter& out, std::string_view family_name, std::span<const Label> labels,
                            const ShardedHistogram::Snapshot& snapshot, std::span<const std::string> bound_texts,
                            const NativeSnapshot* native = nullptr);

void append_value(std::string& out, double value);           // the number format described above
void append_escaped_label_value(std::string& out, std::string_view value);
void append_escaped_help(std::string& out, std::string_view help);

}  // namespace metrics
