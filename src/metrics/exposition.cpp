#include "metrics/exposition.h"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace metrics {

namespace {

constexpr std::string_view kTotal = "_total";

std::string_view type_name(MetricType type, bool open_metrics) noexcept {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
    case MetricType::kUntyped: break;
  }
  return open_metrics ? "unknown" : "untyped";
}

std::string_view without_total(std::string_view name) noexcept {
  return name.ends_with(kTotal) ? name.substr(0, name.size() - kTotal.size()) : name;
}

// OpenMetrics' UNIT must be a suffix of the family name: the units our names end in.
std::string_view unit_of(std::string_view family_name) noexcept {
  for (const std::string_view unit : {"seconds", "bytes"}) {
    if (family_name.size() > unit.size() && family_name.ends_with(unit) &&
        family_name[family_name.size() - unit.size() - 1] == '_') {
      return unit;
    }
  }
  return {};
}

// OpenMetrics exemplar timestamps are seconds; milliseconds are as fine as Prometheus stores them.
void append_unix_seconds(std::string& out, std::int64_t unix_nanos) {
  char buffer[32];
  const std::int64_t millis = unix_nanos / 1000000;
  auto result = std::to_chars(buffer, buffer + sizeof buffer, millis / 1000);
  *result.ptr++ = '.';
  const auto fraction = static_cast<int>(millis % 1000);
  *result.ptr++ = static_cast<char>('0' + fraction / 100);
  *result.ptr++ = static_cast<char>('0' + fraction / 10 % 10);
  *result.ptr++ = static_cast<char>('0' + fraction % 10);
  out.append(buffer, result.ptr);
}

// Appends text with '\\' and newline escaped, plus '"' when escape_quote; unescaped runs go in one append.
void append_escaped(std::string& out, std::string_view text, bool escape_quote) {
  std::size_t run_start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    std::string_view replacement;
    if (c == '\\') {
      replacement = "\\\\";
    } else if (c == '\n') {
      replacement = "\\n";
    } else if (c == '"' && escape_quote) {
      replacement = "\\\"";
    } else {
      continue;
    }
    out.append(text.substr(run_start, i - run_start));
    out.append(replacement);
    run_start = i + 1;
  }
  out.append(text.substr(run_start));
}

}  // namespace

void append_value(std::string& out, double value) {
  if (std::isnan(value)) {
    out.append("NaN");
    return;
  }
  if (std::isinf(value)) {
    out.append(value > 0 ? "+Inf" : "-Inf");
    return;
  }
  // Every integer below 2^53 is exact in a double, so it can print as a plain integer; above that the
  // shortest round-trip form is both shorter and honest about the precision.
  constexpr double kExactIntegerLimit = 9007199254740992.0;
  char buffer[32];  // the longest shortest-form double, "-2.2250738585072014e-308", is 24 characters
  std::to_chars_result result;
  if (std::fabs(value) < kExactIntegerLimit && value == std::trunc(value)) {
    result = std::to_chars(buffer, buffer + sizeof buffer, static_cast<std::int64_t>(value));
  } else {
    result = std::to_chars(buffer, buffer + sizeof buffer, value);
  }
  out.append(buffer, result.ptr);
}

void append_escaped_label_value(std::string& out, std::string_view value) { append_escaped(out, value, true); }

void append_escaped_help(std::string& out, std::string_view help) { append_escaped(out, help, false); }

void TextWriter::family(std::string_view name, std::string_view help, MetricType type) {
  type_ = type;
  if (protobuf_) {
    proto_family(name, help, type);
    return;
  }
  if (open_metrics_ && type == MetricType::kCounter) name = without_total(name);
  out_.append("# HELP ");
  out_.append(name);
  out_.push_back(' ');
  append_escaped(out_, help, open_metrics_);
  out_.append("\n# TYPE ");
  out_.append(name);
  out_.push_back(' ');
  out_.append(type_name(type, open_metrics_));
  out_.push_back('\n');
  if (!open_metrics_) return;
  if (const std::string_view unit = unit_of(name); !unit.empty()) {
    out_.append("# UNIT ").append(name).push_back(' ');
    out_.append(unit).push_back('\n');
  }
}

void TextWriter::sample(std::string_view name, std::span<const Label> labels, double value) {
  if (protobuf_) {
    proto_sample(labels, value);
    return;
  }
  if (!open_metrics_ || type_ != MetricType::kCounter) {
    sample_line(name, {}, labels, nullptr, value);
    return;
  }
  const std::string_view base = without_total(name);
  sample_line(base, kTotal, labels, nullptr, value);
  created_line(base, labels);
}

void TextWriter::created_line(std::string_view base_name, std::span<const Label> labels) {
  if (created_seconds_ > 0) sample_line(base_name, "_created", labels, nullptr, created_seconds_);
}

void TextWriter::finish() {
  if (open_metrics_) out_.append("# EOF\n");
  if (protobuf_ && family_open_) {
    proto_.end();
    family_open_ = false;
  }
}

void TextWriter::bucket(std::string_view name, std::span<const Label> labels, double upper_bound,
                        double cumulative_count) {
  if (protobuf_) return;  // text only: protobuf histograms go through write_histogram_series
  sample_line(name, {}, labels, &upper_bound, cumulative_count);
}

void TextWriter::sample_line(std::string_view name, std::string_view suffix, std::span<const Label> labels,
                             const double* upper_bound, double value) {
  out_.append(name);
  out_.append(suffix);
  if (!labels.empty() || upper_bound != nullptr) {
    char separator = '{';
    for (const Label& label : labels) {
      out_.push_back(separator);
      out_.append(label.name);
      out_.append("=\"");
      append_escaped_label_value(out_, label.value);
      out_.push_back('"');
      separator = ',';
    }
    if (upper_bound != nullptr) {
      out_.push_back(separator);
      out_.append("le=\"");
      append_value(out_, *upper_bound);
      out_.push_back('"');
    }
    out_.push_back('}');
  }
  out_.push_back(' ');
  append_value(out_, value);
  out_.push_back('\n');
}

std::vector<std::string> format_bucket_bounds(std::span<const double> upper_bounds) {
  std::vector<std::string> texts;
  texts.reserve(upper_bounds.size() + 1);
  for (double bound : upper_bounds) {
    std::string text;
    append_value(text, bound);
    texts.push_back(std::move(text));
  }
  texts.emplace_back("+Inf");
  return texts;
}

void write_histogram_series(TextWriter& out, std::string_view family_name, std::span<const Label> labels,
                            const ShardedHistogram::Snapshot& snapshot, std::span<const double> upper_bounds) {
  const std::vector<std::string> bound_texts = format_bucket_bounds(upper_bounds);
  write_histogram_series(out, family_name, labels, snapshot, bound_texts);
}

void write_histogram_series(TextWriter& out, std::string_view family_name, std::span<const Label> labels,
                            const ShardedHistogram::Snapshot& snapshot, std::span<const std::string> bound_texts,
                            const NativeSnapshot* native) {
  assert(snapshot.cumulative.size() == bound_texts.size());
  if (out.protobuf_) {
    out.proto_histogram(labels, snapshot, bound_texts, native);
    return;
  }
  // Every _bucket line shares `<family>_bucket{<labels>,le="`: build it once per series.
  std::string& prefix = out.series_prefix_;
  prefix.assign(family_name).append("_bucket{");
  for (const Label& label : labels) {
    prefix.append(label.name).append("=\"");
    append_escaped_label_value(prefix, label.value);
    prefix.append("\",");
  }
  prefix.append("le=\"");

  std::string& text = out.out_;
  char digits[24];
  const std::size_t finite_buckets = std::min(bound_texts.size(), snapshot.cumulative.size()) - 1;
  for (std::size_t i = 0; i <= finite_buckets; ++i) {
    // +Inf is rendered from count so that the two lines Prometheus requires to agree always do.
    const std::uint64_t cumulative = i < finite_buckets ? snapshot.cumulative[i] : snapshot.count;
    text.append(prefix).append(bound_texts[i]).append("\"} ");
    text.append(digits, std::to_chars(digits, digits + sizeof digits, cumulative).ptr);
    if (out.open_metrics_ && i < snapshot.exemplars.size() && snapshot.exemplars[i].id_length > 0) {
      const Exemplar& exemplar = snapshot.exemplars[i];
      text.append(" # {trace_id=\"");
      append_escaped_label_value(text, exemplar.trace_id());
      text.append("\"} ");
      append_value(text, exemplar.value);
      text.push_back(' ');
      append_unix_seconds(text, exemplar.unix_nanos);
    }
    text.push_back('\n');
  }
  out.sample_line(family_name, "_sum", labels, nullptr, snapshot.sum);
  out.sample_line(family_name, "_count", labels, nullptr, static_cast<double>(snapshot.count));
  if (out.open_metrics_) out.created_line(family_name, labels);
}

}  // namespace metrics
