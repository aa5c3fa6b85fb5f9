#pragma once
// TextWriter: renders metric families in the Prometheus text exposition format 0.0.4 into a string.
//
// The caller writes one family at a time: family() emits "# HELP" and "# TYPE", then sample() emits the
// family's samples. HELP text escapes '\' and newline; label values escape '\', '"' and newline. Values
// print as integers when integral (no exponent up to 2^53), as shortest round-trip decimals otherwise, and
// as +Inf, -Inf or NaN. Names and label names are trusted (they come from code, never from requests).
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/histogram.h"

namespace metrics {

inline constexpr std::string_view kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

enum class MetricType { kCounter, kGauge, kHistogram, kUntyped };

struct Label {
  std::string_view name;
  std::string_view value;
};

class TextWriter {
 public:
  explicit TextWriter(std::string& out) noexcept : out_(out) {}

  void family(std::string_view name, std::string_view help, MetricType type);
  void sample(std::string_view name, std::span<const Label> labels, double value);
  void sample(std::string_view name, std::initializer_list<Label> labels, double value) {
    sample(name, std::span<const Label>(labels.begin(), labels.size()), value);
  }
  // Histogram bucket line: labels plus le="<bound>" (bound formatted like a value, +Inf for infinity).
  void bucket(std::string_view name, std::span<const Label> labels, double upper_bound, double cumulative_count);

 private:
  friend void write_histogram_series(TextWriter&, std::string_view, std::span<const Label>,
                                     const ShardedHistogram::Snapshot&, std::span<const std::string>);

  // One sample line "<name><suffix>{labels[,le="<bound>"]} <value>"; the suffix spares histogram series a
  // concatenated name per line.
  void sample_line(std::string_view name, std::string_view suffix, std::span<const Label> labels,
                   const double* upper_bound, double value);

  std::string& out_;
  std::string series_prefix_;  // scratch for write_histogram_series, reused across series
};

// One series of a histogram family (after family(name, help, MetricType::kHistogram)): the cumulative
// <family>_bucket lines with le ending at +Inf, then <family>_sum and <family>_count. upper_bounds are the
// histogram's finite bounds; the snapshot holds one cumulative count per bound plus one for +Inf.
void write_histogram_series(TextWriter& out, std::string_view family_name, std::span<const Label> labels,
                            const ShardedHistogram::Snapshot& snapshot, std::span<const double> upper_bounds);

// The le values of a histogram's bounds as rendered, followed by "+Inf": formatted once, for the overload
// below that renders many series of one histogram without formatting the same bounds again for each.
std::vector<std::string> format_bucket_bounds(std::span<const double> upper_bounds);
void write_histogram_series(TextWriter& out, std::string_view family_name, std::span<const Label> labels,
                            const ShardedHistogram::Snapshot& snapshot, std::span<const std::string> bound_texts);

void append_value(std::string& out, double value);           // the number format described above
void append_escaped_label_value(std::string& out, std::string_view value);
void append_escaped_help(std::string& out, std::string_view help);

}  // namespace metrics
