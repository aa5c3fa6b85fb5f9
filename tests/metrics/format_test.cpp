#include "metrics/format.h"

#include <gtest/gtest.h>

namespace metrics {
namespace {

// The Accept headers Prometheus sends, from scrape/scrape.go and config/config.go of each release.
// 2.42: two constants, the second with --enable-feature=native-histograms.
constexpr std::string_view kPrometheus2_42 =
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
constexpr std::string_view kPrometheus2_42Native =
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited,"
    "application/openmetrics-text;version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
// 2.49 and later 2.x: built from scrape_protocols, weights counting down from 0.5.
constexpr std::string_view kPrometheus2_49 =
    "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,"
    "text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
constexpr std::string_view kPrometheus2_49Native =
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.5,"
    "application/openmetrics-text;version=1.0.0;q=0.4,application/openmetrics-text;version=0.0.1;q=0.3,"
    "text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
// 3.0 to 3.3: escaping=allow-utf-8 on every protocol (UTF-8 names are the default).
constexpr std::string_view kPrometheus3_0 =
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
    "application/openmetrics-text;version=0.0.1;escaping=allow-utf-8;q=0.5,"
    "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;escaping=allow-utf-8;q=0.3,"
    "*/*;q=0.2";
// 3.4 and later: escaping only on the 1.0.0 formats, with the configured scheme.
constexpr std::string_view kPrometheus3_4 =
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
    "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,"
    "text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
constexpr std::string_view kPrometheus3_4Underscores =
    "application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6,"
    "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=underscores;q=0.4,"
    "text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
constexpr std::string_view kPrometheus3_4Native =
    "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,"
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"
    "application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,"
    "text/plain;version=0.0.4;q=0.2,*/*;q=0.1";

TEST(NegotiateFormat, PrometheusGetsOpenMetricsFromEveryVersion) {
  for (const std::string_view accept : {kPrometheus2_42, kPrometheus2_49, kPrometheus3_0, kPrometheus3_4,
                                        kPrometheus3_4Underscores}) {
    EXPECT_EQ(negotiate_format(accept, false), Format::kOpenMetrics) << accept;
    EXPECT_EQ(negotiate_format(accept, true), Format::kOpenMetrics) << accept;
  }
}

TEST(NegotiateFormat, ProtobufOnlyWhenOfferedAndPreferred) {
  for (const std::string_view accept : {kPrometheus2_42Native, kPrometheus2_49Native, kPrometheus3_4Native}) {
    EXPECT_EQ(negotiate_format(accept, false), Format::kOpenMetrics) << accept;
    EXPECT_EQ(negotiate_format(accept, true), Format::kProtobuf) << accept;
  }
}

TEST(NegotiateFormat, CurlAndNoAcceptGetText) {
  EXPECT_EQ(negotiate_format("*/*", true), Format::kText);
  EXPECT_EQ(negotiate_format("", true), Format::kText);
  EXPECT_EQ(negotiate_format("text/*", true), Format::kText);
  EXPECT_EQ(negotiate_format("text/plain", true), Format::kText);
  EXPECT_EQ(negotiate_format("application/*", false), Format::kOpenMetrics);
}

TEST(NegotiateFormat, NothingAcceptableFallsBackToText) {
  EXPECT_EQ(negotiate_format("application/json", true), Format::kText);
  EXPECT_EQ(negotiate_format("application/openmetrics-text;version=0.0.1", true), Format::kText);
  EXPECT_EQ(negotiate_format("text/plain;version=1.0.0", true), Format::kText);
  EXPECT_EQ(negotiate_format("application/openmetrics-text;q=0", true), Format::kText);
  EXPECT_EQ(negotiate_format("application/vnd.google.protobuf;encoding=text", true), Format::kText);
  EXPECT_EQ(negotiate_format("garbage", true), Format::kText);
}

TEST(NegotiateFormat, TheMostSpecificRangeGivesTheWeight) {
  // text/plain;version=0.0.4 is more specific than text/plain, so text's weight is 0.1 and OpenMetrics wins.
  EXPECT_EQ(negotiate_format("text/plain;q=1,text/plain;version=0.0.4;q=0.1,application/openmetrics-text;q=0.5",
                             false),
            Format::kOpenMetrics);
  // An explicit q=0 on the exact type excludes it even though */* would accept it.
  EXPECT_EQ(negotiate_format("*/*,text/plain;version=0.0.4;q=0", false), Format::kOpenMetrics);
  EXPECT_EQ(negotiate_format("application/*;q=0.9,*/*;q=0.1", false), Format::kOpenMetrics);
}

TEST(NegotiateFormat, ParametersMustHoldForTheFormat) {
  EXPECT_EQ(negotiate_format("application/openmetrics-text;version=1.0.0;charset=UTF-8", false),
            Format::kOpenMetrics);
  EXPECT_EQ(negotiate_format("application/openmetrics-text;version=\"1.0.0\"", false), Format::kOpenMetrics);
  EXPECT_EQ(negotiate_format("application/openmetrics-text;charset=latin1", false), Format::kText);
  EXPECT_EQ(negotiate_format("application/openmetrics-text;escaping=allow-utf-8", false), Format::kOpenMetrics);
  EXPECT_EQ(negotiate_format("application/openmetrics-text;escaping=klingon", false), Format::kText);
  EXPECT_EQ(negotiate_format("application/openmetrics-text;level=1", false), Format::kText);
  EXPECT_EQ(negotiate_format("APPLICATION/OpenMetrics-Text;VERSION=1.0.0", false), Format::kOpenMetrics);
}

TEST(NegotiateFormat, TiesGoToTextThenOpenMetrics) {
  EXPECT_EQ(negotiate_format("application/openmetrics-text,text/plain", true), Format::kText);
  EXPECT_EQ(negotiate_format("application/vnd.google.protobuf,application/openmetrics-text", true),
            Format::kOpenMetrics);
}

TEST(NegotiateFormat, SeveralAcceptFieldsFormOneList) {
  FormatNegotiation negotiation;
  negotiation.consider("text/plain;q=0.2");
  negotiation.consider("application/openmetrics-text;version=1.0.0;q=0.9");
  EXPECT_EQ(negotiation.choose(false), Format::kOpenMetrics);
  EXPECT_EQ(FormatNegotiation().choose(true), Format::kText);
}

TEST(NegotiateFormat, MalformedElementsDoNotHideGoodOnes) {
  EXPECT_EQ(negotiate_format("application/openmetrics-text;q=7,text/plain;q=0.1", false), Format::kText);
  EXPECT_EQ(negotiate_format("bad, application/openmetrics-text", false), Format::kOpenMetrics);
}

TEST(ContentType, IsExactlyTheChosenFormat) {
  EXPECT_EQ(content_type(Format::kText), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(content_type(Format::kOpenMetrics), "application/openmetrics-text; version=1.0.0; charset=utf-8");
  EXPECT_EQ(content_type(Format::kProtobuf),
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited");
}

}  // namespace
}  // namespace metrics
