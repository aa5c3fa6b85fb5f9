#include "metrics/format.h"

#include "base/text.h"
#include "http/accept.h"

namespace metrics {

namespace {

struct FormatFacts {
  std::string_view type;
  std::string_view subtype;
  std::string_view version;   // empty: the format has no version parameter
  bool has_charset;           // charset=utf-8
  bool protobuf;              // proto=io.prometheus.client.MetricFamily; encoding=delimited
};

constexpr FormatFacts kFacts[kFormatCount] = {
    {"text", "plain", "0.0.4", true, false},
    {"application", "openmetrics-text", "1.0.0", true, false},
    {"application", "vnd.google.protobuf", "", false, true},
};

bool known_escaping(const http::MediaParameter& parameter) noexcept {
  for (const std::string_view scheme : {"allow-utf-8", "underscores", "dots", "values"}) {
    if (http::parameter_equals(parameter, scheme, false)) return true;
  }
  return false;
}

bool parameter_holds(const FormatFacts& facts, const http::MediaParameter& parameter) noexcept {
  const std::string_view name = parameter.name;
  if (base::equals_ignore_case(name, "version")) {
    return !facts.version.empty() && http::parameter_equals(parameter, facts.version, false);
  }
  if (base::equals_ignore_case(name, "charset")) {
    return facts.has_charset && http::parameter_equals(parameter, "utf-8", true);
  }
  if (base::equals_ignore_case(name, "proto")) {
    return facts.protobuf && http::parameter_equals(parameter, "io.prometheus.client.MetricFamily", false);
  }
  if (base::equals_ignore_case(name, "encoding")) {
    return facts.protobuf && http::parameter_equals(parameter, "delimited", false);
  }
  if (base::equals_ignore_case(name, "escaping")) return known_escaping(parameter);
  return false;
}

// How specifically `range` names the format (0 */*, 1 type/*, 2 + parameters for type/subtype), or -1.
int specificity(const FormatFacts& facts, const http::MediaRange& range) noexcept {
  if (range.any_type()) return range.parameter_count == 0 ? 0 : -1;
  if (!base::equals_ignore_case(range.type, facts.type)) return -1;
  if (range.any_subtype()) return range.parameter_count == 0 ? 1 : -1;
  if (!base::equals_ignore_case(range.subtype, facts.subtype)) return -1;
  for (std::size_t i = 0; i < range.parameter_count; ++i) {
    if (!parameter_holds(facts, range.parameters[i])) return -1;
  }
  return 2 + static_cast<int>(range.parameter_count);
}

}  // namespace

std::string_view content_type(Format format) noexcept {
  switch (format) {
    case Format::kText: return kTextContentType;
    case Format::kOpenMetrics: return kOpenMetricsContentType;
    case Format::kProtobuf: return kProtobufContentType;
  }
  return kTextContentType;
}

void FormatNegotiation::consider(std::string_view accept) noexcept {
  any_field_ = true;
  http::AcceptReader reader(accept);
  http::MediaRange range;
  for (;;) {
    const http::AcceptReader::Step step = reader.next(range);
    if (step == http::AcceptReader::Step::kEnd) return;
    if (step == http::AcceptReader::Step::kMalformed) continue;
    for (std::size_t f = 0; f < kFormatCount; ++f) {
      const int s = specificity(kFacts[f], range);
      // The first of equally specific ranges stands: a later duplicate does not override it.
      if (s > matches_[f].specificity) matches_[f] = Match{s, range.weight};
    }
  }
}

Format FormatNegotiation::choose(bool offer_protobuf) const noexcept {
  if (!any_field_) return Format::kText;  // no Accept: anything is acceptable, and text is our preference
  const std::size_t offered = offer_protobuf ? kFormatCount : kFormatCount - 1;
  std::size_t best = 0;
  std::uint16_t best_weight = 0;
  for (std::size_t f = 0; f < offered; ++f) {
    if (matches_[f].specificity >= 0 && matches_[f].weight > best_weight) {
      best = f;
      best_weight = matches_[f].weight;
    }
  }
  return static_cast<Format>(best);  // text when nothing offered is acceptable
}

Format negotiate_format(std::string_view accept, bool offer_protobuf) noexcept {
  FormatNegotiation negotiation;
  if (!accept.empty()) negotiation.consider(accept);
  return negotiation.choose(offer_protobuf);
}

}  // namespace metrics
