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

std::string_view type_name(MetricType type) noexcept {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
    case MetricType::kUntyped: return "untyped";
  }
  return "untyped";
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
  out_.append("# HELP ");
  out_.append(name);
  out_.push_back(' ');
  append_escaped_help(out_, help);
  out_.append("\n# TYPE ");
  out_.append(name);
  out_.push_back(' ');
  out_.append(type_name(type));
  out_.push_back('\n');
}

void TextWriter::sample(std::string_view name, std::span<const Label> labels, double value) {
  sample_line(name, {}, labels, nullptr, value);
}

void TextWriter::bucket(std::string_view name, std::span<const Label> labels, double upper_bound,
                        double cumulative_count) {
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
                            const ShardedHistogram::Snapshot& snapshot, std::span<const std::string> bound_texts) {
  assert(snapshot.cumulative.size() == bound_texts.size());
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
    text.push_back('\n');
  }
  out.sample_line(family_name, "_sum", labels, nullptr, snapshot.sum);
  out.sample_line(family_name, "_count", labels, nullptr, static_cast<double>(snapshot.count));
}

}  // namespace metrics
