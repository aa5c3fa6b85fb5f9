// The real binary's protobuf /metrics, decoded, against its text /metrics: the same families and values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "harness.h"
#include "metrics/proto_decode.h"

namespace {

using harness::Client;
using harness::metric_value;
using harness::ServerProcess;
using proto_test::all;
using proto_test::decode;
using proto_test::Field;
using proto_test::first;

constexpr std::string_view kProtobuf =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

std::vector<Field> sub(const Field* field) {
  if (field == nullptr) return {};
  return decode(field->bytes).value_or(std::vector<Field>());
}

std::map<std::string, std::string> labels_of(const std::vector<Field>& metric) {
  std::map<std::string, std::string> labels;
  for (const Field& pair : all(metric, 1)) {
    const std::vector<Field> label = sub(&pair);
    const Field* name = first(label, 1);
    const Field* value = first(label, 2);
    if (name != nullptr && value != nullptr) labels[name->bytes] = value->bytes;
  }
  return labels;
}

TEST(ProtobufExpositionTest, DecodedValuesEqualTheTextExposition) {
  ServerProcess server;
  ASSERT_NE(server.port(), 0);
  Client c(server.port());
  for (int i = 0; i < 40; ++i) ASSERT_EQ(c.request("GET", "/healthz")->status, 200);
  ASSERT_EQ(c.request("PUT", "/api/buckets/p", "value")->status, 200);

  const harness::MaybeResponse proto = c.request("GET", "/metrics", {}, "Accept: " + std::string(kProtobuf) + "\r\n");
  ASSERT_EQ(proto->status, 200);
  EXPECT_EQ(proto->header("content-type"), kProtobuf);
  const harness::MaybeResponse text = c.request("GET", "/metrics", {}, "Accept: text/plain\r\n");
  ASSERT_EQ(text->status, 200);

  const auto messages = proto_test::split_delimited(proto->body);
  ASSERT_TRUE(messages);
  std::map<std::string, std::vector<Field>> families;
  for (const std::string& message : *messages) {
    const auto fields = decode(message);
    ASSERT_TRUE(fields);
    families[first(*fields, 1)->bytes] = *fields;
  }
  // Every family of the text page is there, under the same name.
  std::size_t text_families = 0;
  for (std::size_t at = text->body.find("# TYPE "); at != std::string::npos; at = text->body.find("# TYPE ", at + 1)) {
    const std::size_t start = at + 7;
    const std::string name = text->body.substr(start, text->body.find(' ', start) - start);
    EXPECT_EQ(families.count(name), 1u) << name;
    ++text_families;
  }
  EXPECT_EQ(families.size(), text_families);

  // The /healthz histogram series: count, sum, every bucket, and the native buckets' total.
  bool found = false;
  for (const Field& metric_field : all(families["http_request_duration_seconds"], 4)) {
    const std::vector<Field> metric = sub(&metric_field);
    std::map<std::string, std::string> labels = labels_of(metric);
    if (labels["path"] != "/healthz") continue;
    found = true;
    const std::string series = R"({method="GET",path="/healthz",status="200")";
    const std::vector<Field> h = sub(first(metric, 7));
    EXPECT_EQ(static_cast<double>(first(h, 1)->varint), metric_value(text->body, "http_request_duration_seconds_count" + series + "}"));
    EXPECT_EQ(first(h, 1)->varint, 40u);
    EXPECT_EQ(first(h, 2)->fixed, metric_value(text->body, "http_request_duration_seconds_sum" + series + "}"));
    // The text page's buckets of the series, by bound.
    std::map<double, double> text_buckets;
    const std::string prefix = "http_request_duration_seconds_bucket" + series + ",le=\"";
    for (std::size_t at = text->body.find(prefix); at != std::string::npos; at = text->body.find(prefix, at + 1)) {
      const std::size_t le = at + prefix.size();
      const std::size_t le_end = text->body.find('"', le);
      const double bound = std::strtod(text->body.substr(le, le_end - le).c_str(), nullptr);
      text_buckets[bound] = std::strtod(text->body.c_str() + text->body.find(' ', le_end) + 1, nullptr);
    }
    ASSERT_EQ(text_buckets.size(), 18u);
    std::size_t compared = 0;
    for (const Field& bucket_field : all(h, 3)) {
      const std::vector<Field> bucket = sub(&bucket_field);
      const double bound = first(bucket, 2)->fixed;
      ASSERT_EQ(text_buckets.count(bound), 1u) << bound;
      EXPECT_EQ(static_cast<double>(first(bucket, 1)->varint), text_buckets[bound]) << bound;
      ++compared;
    }
    EXPECT_GE(compared, 17u);  // every finite bound (and +Inf when it carries an exemplar)
    std::uint64_t native_total = first(h, 7)->varint;  // zero bucket
    std::string_view packed = first(h, 13)->bytes;
    std::int64_t count = 0;
    std::uint64_t v = 0;
    while (!packed.empty() && proto_test::read_varint(packed, v)) {
      count += proto_test::unzigzag(v);
      native_total += static_cast<std::uint64_t>(count);
    }
    EXPECT_EQ(native_total, 40u);
    EXPECT_EQ(proto_test::unzigzag(first(h, 5)->varint), 3);  // the default schema
  }
  EXPECT_TRUE(found);

  // A gauge and a labelled counter.
  const std::vector<Field> buckets = sub(first(sub(first(families["storage_api_buckets"], 4)), 2));
  EXPECT_EQ(first(buckets, 1)->fixed, metric_value(text->body, "storage_api_buckets"));
  for (const Field& metric_field : all(families["storage_api_refusals_total"], 4)) {
    const std::vector<Field> metric = sub(&metric_field);
    const std::string reason = labels_of(metric)["reason"];
    const std::vector<Field> counter = sub(first(metric, 3));
    EXPECT_EQ(first(counter, 1)->fixed,
              metric_value(text->body, "storage_api_refusals_total{reason=\"" + reason + "\"}"))
        << reason;
  }
}

}  // namespace
