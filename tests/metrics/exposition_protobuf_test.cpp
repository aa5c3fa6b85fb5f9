// TextWriter's protobuf output, read back with the tests' own wire-format reader, field by field against
// io.prometheus.client's metrics.proto.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "metrics/exposition.h"
#include "metrics/histogram.h"
#include "metrics/native_histogram.h"
#include "metrics/registry.h"
#include "proto_decode.h"

namespace metrics {
namespace {

using proto_test::all;
using proto_test::decode;
using proto_test::Field;
using proto_test::first;

std::vector<std::vector<Field>> families(const std::string& body) {
  std::vector<std::vector<Field>> out;
  const auto messages = proto_test::split_delimited(body);
  EXPECT_TRUE(messages);
  if (!messages) return out;
  for (const std::string& message : *messages) {
    const auto fields = decode(message);
    EXPECT_TRUE(fields);
    if (fields) out.push_back(*fields);
  }
  return out;
}

std::vector<Field> sub(const Field* field) {
  EXPECT_NE(field, nullptr);
  if (field == nullptr) return {};
  const auto fields = decode(field->bytes);
  EXPECT_TRUE(fields);
  return fields ? *fields : std::vector<Field>();
}

TEST(ProtobufWriter, CountersAndGaugesWithLabelsAndCreated) {
  std::string out;
  TextWriter writer(out, Format::kProtobuf, 1700000000.25);
  writer.family("storage_api_refusals_total", "Refusals.", MetricType::kCounter);
  writer.sample("storage_api_refusals_total", {{"reason", "storage_full"}}, 7);
  writer.family("storage_api_stored_bytes", "", MetricType::kGauge);
  writer.sample("storage_api_stored_bytes", {}, 1234.5);
  writer.finish();

  const auto fs = families(out);
  ASSERT_EQ(fs.size(), 2u);
  EXPECT_EQ(first(fs[0], 1)->bytes, "storage_api_refusals_total");  // counters keep _total
  EXPECT_EQ(first(fs[0], 2)->bytes, "Refusals.");
  EXPECT_EQ(first(fs[0], 3)->varint, 0u);  // COUNTER
  EXPECT_EQ(first(fs[0], 5), nullptr);     // no unit
  const auto metrics = all(fs[0], 4);
  ASSERT_EQ(metrics.size(), 1u);
  const auto metric = sub(&metrics[0]);
  const auto label = sub(first(metric, 1));
  EXPECT_EQ(first(label, 1)->bytes, "reason");
  EXPECT_EQ(first(label, 2)->bytes, "storage_full");
  const auto counter = sub(first(metric, 3));
  EXPECT_EQ(first(counter, 1)->fixed, 7);
  const auto created = sub(first(counter, 3));
  EXPECT_EQ(first(created, 1)->varint, 1700000000u);
  EXPECT_EQ(first(created, 2)->varint, 250000000u);

  EXPECT_EQ(first(fs[1], 1)->bytes, "storage_api_stored_bytes");
  EXPECT_EQ(first(fs[1], 2), nullptr);  // empty help is left out
  EXPECT_EQ(first(fs[1], 3)->varint, 1u);  // GAUGE
  EXPECT_EQ(first(fs[1], 5)->bytes, "bytes");
  const auto gauge = sub(first(sub(first(fs[1], 4)), 2));
  EXPECT_EQ(first(gauge, 1)->fixed, 1234.5);
}

TEST(ProtobufWriter, HistogramWithClassicBucketsExemplarsAndNativeBuckets) {
  ShardedHistogram classic({0.25, 1}, 1, 1, true);
  NativeHistogramOptions options;
  options.schema = 0;
  NativeHistogram native(options, 1, 1);
  for (const double v : {0.1875, 0.75, 3.0}) {
    classic.observe(0, 0, v, v < 1 ? "fast" : "slow", 1700000001'500000000);
    native.observe(0, 0, v);
  }
  ShardedHistogram::Snapshot snapshot;
  classic.collect(0, snapshot);
  NativeSnapshot native_snapshot;
  native.collect(0, native_snapshot);

  std::string out;
  TextWriter writer(out, Format::kProtobuf, 1700000000);
  writer.family("d_seconds", "D.", MetricType::kHistogram);
  const std::vector<std::string> bounds = format_bucket_bounds(classic.upper_bounds());
  const std::vector<Label> labels = {{"path", "/x"}};
  write_histogram_series(writer, "d_seconds", labels, snapshot, bounds, &native_snapshot);
  writer.finish();

  const auto fs = families(out);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(first(fs[0], 3)->varint, 4u);  // HISTOGRAM
  EXPECT_EQ(first(fs[0], 5)->bytes, "seconds");
  const auto metric = sub(first(fs[0], 4));
  EXPECT_EQ(first(sub(first(metric, 1)), 2)->bytes, "/x");
  const auto h = sub(first(metric, 7));
  EXPECT_EQ(first(h, 1)->varint, 3u);
  EXPECT_EQ(first(h, 2)->fixed, 3.9375);
  const auto buckets = all(h, 3);
  ASSERT_EQ(buckets.size(), 3u);  // 0.25, 1, and +Inf for its exemplar
  const double expected_bounds[] = {0.25, 1, INFINITY};
  const std::uint64_t expected_counts[] = {1, 2, 3};
  const char* expected_ids[] = {"fast", "fast", "slow"};
  const double expected_values[] = {0.1875, 0.75, 3.0};
  for (std::size_t i = 0; i < 3; ++i) {
    const auto bucket = sub(&buckets[i]);
    EXPECT_EQ(first(bucket, 1)->varint, expected_counts[i]);
    EXPECT_EQ(first(bucket, 2)->fixed, expected_bounds[i]);
    const auto exemplar = sub(first(bucket, 3));
    const auto label = sub(first(exemplar, 1));
    EXPECT_EQ(first(label, 1)->bytes, "trace_id");
    EXPECT_EQ(first(label, 2)->bytes, expected_ids[i]);
    EXPECT_EQ(first(exemplar, 2)->fixed, expected_values[i]);
    const auto ts = sub(first(exemplar, 3));
    EXPECT_EQ(first(ts, 1)->varint, 1700000001u);
    EXPECT_EQ(first(ts, 2)->varint, 500000000u);
  }
  // Native: schema 0, keys -2 (0.1875), 0 (0.75), 2 (3.0): three spans of one bucket.
  EXPECT_EQ(proto_test::unzigzag(first(h, 5)->varint), 0);
  EXPECT_EQ(first(h, 6)->fixed, 0x1p-20);
  EXPECT_EQ(first(h, 7)->varint, 0u);
  const auto spans = all(h, 12);
  ASSERT_EQ(spans.size(), 3u);
  const std::int64_t offsets[] = {-2, 1, 1};
  for (std::size_t i = 0; i < 3; ++i) {
    const auto span = sub(&spans[i]);
    EXPECT_EQ(proto_test::unzigzag(first(span, 1)->varint), offsets[i]);
    EXPECT_EQ(first(span, 2)->varint, 1u);
  }
  std::string_view packed = first(h, 13)->bytes;
  std::vector<std::int64_t> deltas;
  std::uint64_t v = 0;
  while (!packed.empty() && proto_test::read_varint(packed, v)) deltas.push_back(proto_test::unzigzag(v));
  EXPECT_EQ(deltas, (std::vector<std::int64_t>{1, 0, 0}));
  EXPECT_EQ(first(sub(first(h, 15)), 1)->varint, 1700000000u);
}

TEST(ProtobufWriter, TheRegistryFramesEveryFamily) {
  class Two final : public Collector {
   public:
    void collect(TextWriter& out) const override {
      out.family("a_total", "A.", MetricType::kCounter);
      out.sample("a_total", {}, 1);
      out.family("b", "B.", MetricType::kUntyped);
      out.sample("b", {}, 2);
      out.sample("b", {{"x", "y"}}, 3);
    }
  } two;
  Registry registry;
  registry.add(two);
  std::string out;
  registry.render(out, Format::kProtobuf);
  const auto fs = families(out);
  ASSERT_EQ(fs.size(), 2u);
  EXPECT_EQ(first(fs[1], 1)->bytes, "b");
  EXPECT_EQ(first(fs[1], 3)->varint, 3u);  // UNTYPED
  const auto metrics = all(fs[1], 4);
  ASSERT_EQ(metrics.size(), 2u);
  EXPECT_EQ(first(sub(first(sub(&metrics[1]), 5)), 1)->fixed, 3);
  EXPECT_EQ(first(sub(first(sub(&metrics[0]), 5)), 1)->fixed, 2);
}

}  // namespace
}  // namespace metrics
