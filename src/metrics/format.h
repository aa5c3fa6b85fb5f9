#pragma once
// The exposition formats /metrics can answer in, and the choice among them from a scrape's Accept fields
// (RFC 9110 12.5.1 content negotiation; the media ranges come from http::AcceptReader).
//
// For each format offered, the most specific media range that matches it gives its weight: type/subtype
// with parameters beats type/subtype, which beats type/*, which beats */*. A range matches a format when
// its type and subtype match (or are wildcards) and every parameter it names is one the format has with
// that value: version (0.0.4, 1.0.0), charset (utf-8), proto and encoding for protobuf, and escaping,
// which any value we know satisfies because every name we expose is a legacy Prometheus name (valid
// under every escaping scheme). A range with any other parameter matches nothing. The format with the
// highest weight above 0 wins; ties go to the earlier of text, OpenMetrics, protobuf, so `*/*` and a
// missing Accept get text. When nothing offered is acceptable the answer is text 0.0.4 too, rather than
// 406: an old scraper always gets something it can read.
#include <cstdint>
#include <string_view>

namespace metrics {

enum class Format : std::uint8_t { kText, kOpenMetrics, kProtobuf };
inline constexpr std::size_t kFormatCount = 3;

// The exact Content-Type each format is answered with.
inline constexpr std::string_view kTextContentType = "text/plain; version=0.0.4; charset=utf-8";
inline constexpr std::string_view kOpenMetricsContentType =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";
inline constexpr std::string_view kProtobufContentType =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

std::string_view content_type(Format format) noexcept;

class FormatNegotiation {
 public:
  // One Accept field value; a request with several Accept fields calls this once per field, in order.
  void consider(std::string_view accept) noexcept;
  // The format to answer in, among text, OpenMetrics and (when offered) protobuf.
  Format choose(bool offer_protobuf) const noexcept;

 private:
  struct Match {
    int specificity = -1;  // -1: no range matched
    std::uint16_t weight = 0;
  };
  bool any_field_ = false;
  Match matches_[kFormatCount];
};

// The whole negotiation over one Accept value (empty: no Accept field).
Format negotiate_format(std::string_view accept, bool offer_protobuf) noexcept;

}  // namespace metrics
