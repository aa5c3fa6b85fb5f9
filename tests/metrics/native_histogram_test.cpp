#include "metrics/native_histogram.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace metrics {
namespace {

// Bucket k of schema s holds (2^((k-1)/2^s), 2^(k/2^s)]: k = ceil(log2(v) * 2^s), away from rounding.
int reference_key(double value, int schema) { return static_cast<int>(std::ceil(std::log2(value) * std::exp2(schema))); }

NativeHistogramOptions with_schema(int schema, std::size_t limit = 0) {
  NativeHistogramOptions options;
  options.schema = schema;
  options.bucket_limit = limit;
  return options;
}

TEST(NativeHistogram, KeysMatchTheBucketDefinition) {
  for (int schema = -4; schema <= 5; ++schema) {
    const NativeHistogram h(with_schema(schema), 1, 1);
    for (const double v : {3e-6, 1.7e-5, 0.000123, 0.0049, 0.07, 0.3, 0.9, 1.3, 3.3, 7.77, 123.4, 5000.0}) {
      EXPECT_EQ(h.key_of(v), reference_key(v, schema)) << "schema " << schema << " value " << v;
    }
  }
}

TEST(NativeHistogram, BoundsBelongToTheBucketTheyClose) {
  const NativeHistogram h3(with_schema(3), 1, 1);
  EXPECT_EQ(h3.key_of(1.0), 0);
  EXPECT_EQ(h3.key_of(std::nextafter(1.0, 2.0)), 1);
  EXPECT_EQ(h3.key_of(2.0), 8);
  EXPECT_EQ(h3.key_of(0.5), -8);
  const NativeHistogram h0(with_schema(0), 1, 1);
  EXPECT_EQ(h0.key_of(1.0), 0);
  EXPECT_EQ(h0.key_of(1.5), 1);
  EXPECT_EQ(h0.key_of(2.0), 1);
  EXPECT_EQ(h0.key_of(0.25), -2);
  const NativeHistogram hm2(with_schema(-2), 1, 1);  // buckets of 16x: (1, 16], (16, 256]
  EXPECT_EQ(hm2.key_of(16.0), 1);
  EXPECT_EQ(hm2.key_of(17.0), 2);
  EXPECT_EQ(hm2.key_of(1.0), 0);
}

TEST(NativeHistogram, SpansAndDeltasAcrossShards) {
  NativeHistogram h(with_schema(0), 2, 2);
  h.observe(0, 1, 0.75);  // key 0: (0.5, 1]
  h.observe(1, 1, 1.0);   // key 0
  h.observe(0, 1, 1.5);   // key 1
  h.observe(1, 1, 7.0);   // key 3: a gap at key 2
  h.observe(0, 1, 0);     // the zero bucket
  h.observe(0, 1, -3);    // below the zero threshold too
  h.observe(0, 1, std::numeric_limits<double>::quiet_NaN());  // not in any bucket
  h.observe(0, 0, 100);   // another series
  NativeSnapshot s;
  h.collect(1, s);
  EXPECT_EQ(s.schema, 0);
  EXPECT_EQ(s.zero_threshold, 0x1p-20);
  EXPECT_EQ(s.zero_count, 2u);
  EXPECT_EQ(s.bucket_total, 6u);
  ASSERT_EQ(s.spans.size(), 2u);
  EXPECT_EQ(s.spans[0].offset, 0);
  EXPECT_EQ(s.spans[0].length, 2u);
  EXPECT_EQ(s.spans[1].offset, 1);  // keys 0-1, then one empty key, then key 3
  EXPECT_EQ(s.spans[1].length, 1u);
  EXPECT_EQ(s.deltas, (std::vector<std::int64_t>{2, -1, 0}));
}

TEST(NativeHistogram, ReducesResolutionToTheBucketLimit) {
  NativeHistogram h(with_schema(3, 4), 1, 1);
  // Eight values one schema-3 bucket apart: 8 buckets at schema 3, 4 at 2, 2 at 1.
  for (int k = 1; k <= 8; ++k) h.observe(0, 0, std::exp2((k - 0.5) / 8));
  NativeSnapshot s;
  h.collect(0, s);
  EXPECT_EQ(s.schema, 2);
  ASSERT_EQ(s.spans.size(), 1u);
  EXPECT_EQ(s.spans[0].offset, 1);
  EXPECT_EQ(s.spans[0].length, 4u);
  EXPECT_EQ(s.deltas, (std::vector<std::int64_t>{2, 0, 0, 0}));
  EXPECT_EQ(s.bucket_total, 8u);
}

TEST(NativeHistogram, NegativeKeysMergeDownwardsToo) {
  NativeHistogram h(with_schema(1, 1), 1, 1);
  h.observe(0, 0, 0.4);  // schema 1: key -2 ((0.354, 0.5]); schema 0: key -1; schema -1: key 0
  h.observe(0, 0, 0.3);  // schema 1: key -3 ((0.25, 0.354]); schema 0: key -1
  NativeSnapshot s;
  h.collect(0, s);
  EXPECT_EQ(s.schema, 0);
  ASSERT_EQ(s.spans.size(), 1u);
  EXPECT_EQ(s.spans[0].offset, -1);
  EXPECT_EQ(s.deltas, (std::vector<std::int64_t>{2}));
}

TEST(NativeHistogram, ValuesBeyondTheRangeLandInTheTopBucket) {
  NativeHistogram h(with_schema(0), 1, 1);
  h.observe(0, 0, std::numeric_limits<double>::infinity());
  h.observe(0, 0, 1e30);
  NativeSnapshot s;
  h.collect(0, s);
  ASSERT_EQ(s.spans.size(), 1u);
  EXPECT_EQ(s.spans[0].offset, h.key_of(0x1p-20) + NativeHistogram::kRangeOctaves);
  EXPECT_EQ(s.deltas, (std::vector<std::int64_t>{2}));
}

TEST(NativeHistogram, ValidatesOptions) {
  EXPECT_TRUE(valid_native_options(NativeHistogramOptions()));
  EXPECT_FALSE(valid_native_options(with_schema(6)));
  EXPECT_FALSE(valid_native_options(with_schema(-5)));
  NativeHistogramOptions zero;
  zero.zero_threshold = 0;
  EXPECT_FALSE(valid_native_options(zero));
  zero.zero_threshold = std::numeric_limits<double>::infinity();
  EXPECT_FALSE(valid_native_options(zero));
}

}  // namespace
}  // namespace metrics
