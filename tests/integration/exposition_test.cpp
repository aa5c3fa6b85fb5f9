// /metrics format negotiation, exemplars and request ids against the real binary.
#include <gtest/gtest.h>

#include <string>

#include "harness.h"

namespace {

using harness::Client;
using harness::ServerProcess;

constexpr std::string_view kOpenMetrics = "application/openmetrics-text; version=1.0.0; charset=utf-8";
constexpr std::string_view kText = "text/plain; version=0.0.4; charset=utf-8";
// Prometheus 3.4+ and 2.42, as they send it.
constexpr std::string_view kPrometheus3Accept =
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
    "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,"
    "text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
constexpr std::string_view kPrometheus2Accept =
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

harness::MaybeResponse scrape_with(Client& c, std::string_view accept) {
  const std::string headers = accept.empty() ? std::string() : "Accept: " + std::string(accept) + "\r\n";
  return c.request("GET", "/metrics", {}, headers);
}

TEST(ExpositionTest, TheAcceptHeaderChoosesTheFormat) {
  ServerProcess server;
  ASSERT_NE(server.port(), 0);
  Client c(server.port());
  ASSERT_EQ(c.request("GET", "/healthz")->status, 200);
  for (const std::string_view accept : {kPrometheus3Accept, kPrometheus2Accept}) {
    const harness::MaybeResponse om = scrape_with(c, accept);
    ASSERT_EQ(om->status, 200);
    EXPECT_EQ(om->header("content-type"), kOpenMetrics);
    EXPECT_TRUE(om->body.ends_with("\n# EOF\n"));
    EXPECT_NE(om->body.find("# TYPE storage_api_refusals counter\n"), std::string::npos);
    EXPECT_NE(om->body.find("# UNIT http_request_duration_seconds seconds\n"), std::string::npos);
    EXPECT_NE(om->body.find("http_request_duration_seconds_created{"), std::string::npos);
  }
  for (const std::string_view accept : {std::string_view("*/*"), std::string_view(), std::string_view("x/y")}) {
    const harness::MaybeResponse text = scrape_with(c, accept);
    ASSERT_EQ(text->status, 200);
    EXPECT_EQ(text->header("content-type"), kText) << accept;
    EXPECT_EQ(text->body.find("# EOF"), std::string::npos);
    EXPECT_EQ(text->body.find(" # {trace_id="), std::string::npos);
    EXPECT_NE(text->body.find("# TYPE storage_api_refusals_total counter\n"), std::string::npos);
  }
}

TEST(ExpositionTest, ExemplarsNameTheRequestIdsOfTheAccessLog) {
  ServerProcess server({}, {{"ACCESS_LOG", "true"}});
  ASSERT_NE(server.port(), 0);
  Client c(server.port());
  const harness::MaybeResponse given = c.request("GET", "/api/buckets/missing", {}, "X-Request-Id: probe-404-a\r\n");
  ASSERT_EQ(given->status, 404);
  EXPECT_EQ(given->header("x-request-id"), "probe-404-a");

  constexpr std::string_view kTraceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const harness::MaybeResponse traced =
      c.request("PUT", "/api/buckets/traced", "v", "traceparent: " + std::string(kTraceparent) + "\r\n");
  ASSERT_EQ(traced->status, 200);
  const std::string echoed = traced->header("traceparent");
  ASSERT_EQ(echoed.size(), 55u);
  EXPECT_EQ(echoed.substr(0, 36), kTraceparent.substr(0, 36));
  EXPECT_NE(echoed.substr(36, 16), kTraceparent.substr(36, 16));

  const harness::MaybeResponse generated = c.request("GET", "/healthz");
  ASSERT_EQ(generated->status, 200);
  const std::string generated_id = generated->header("x-request-id");
  ASSERT_EQ(generated_id.size(), 32u);

  const std::string body = scrape_with(c, kPrometheus3Accept)->body;
  EXPECT_NE(body.find(R"(path="/api/buckets/{id}",status="404",le=)"), std::string::npos);
  EXPECT_NE(body.find(R"( # {trace_id="probe-404-a"} )"), std::string::npos) << body;
  EXPECT_NE(body.find(R"( # {trace_id="0af7651916cd43dd8448eb211c80319c"} )"), std::string::npos);
  EXPECT_NE(body.find(" # {trace_id=\"" + generated_id + "\"} "), std::string::npos);

  // Each id is in its request's access-log line.
  EXPECT_TRUE(server.wait_for_log(R"("status":404,)"));
  for (const std::string& id : {std::string("probe-404-a"), std::string("0af7651916cd43dd8448eb211c80319c"), generated_id}) {
    const auto line = server.wait_for_log("\"request_id\":\"" + id + "\"");
    ASSERT_TRUE(line) << id;
    EXPECT_NE(line->find(R"("event":"request")"), std::string::npos);
  }
}

TEST(ExpositionTest, AnUnusableRequestIdIsReplaced) {
  ServerProcess server;
  ASSERT_NE(server.port(), 0);
  Client c(server.port());
  const harness::MaybeResponse r =
      c.request("GET", "/healthz", {}, "X-Request-Id: has spaces in it\r\ntraceparent: 00-zz-zz-01\r\n");
  ASSERT_EQ(r->status, 200);
  EXPECT_FALSE(r->has_header("traceparent"));
  const std::string id = r->header("x-request-id");
  EXPECT_EQ(id.size(), 32u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos);
}

}  // namespace
