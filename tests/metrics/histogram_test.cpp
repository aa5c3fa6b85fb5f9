#include "metrics/histogram.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <thread>
#include <vector>

namespace metrics {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

using Counts = std::vector<std::uint64_t>;

ShardedHistogram::Snapshot snapshot_of(const ShardedHistogram& histogram, std::size_t series) {
  ShardedHistogram::Snapshot snapshot;
  histogram.collect(series, snapshot);
  return snapshot;
}

TEST(DefaultDurationBuckets, AreTheDocumentedValidBounds) {
  const std::vector<double> expected = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                        0.05,    0.1,    0.25,    0.5,    1,     2.5,    5,     10};
  EXPECT_EQ(default_duration_buckets(), expected);
  EXPECT_TRUE(valid_bucket_bounds(default_duration_buckets()));
}

TEST(ValidBucketBounds, AcceptsOnlyFiniteStrictlyIncreasingNonEmpty) {
  struct Case {
    std::vector<double> bounds;
    bool valid;
  };
  const Case cases[] = {
      {{}, false},
      {{1}, true},
      {{-1, 0, 0.5, 1}, true},
      {{1, 2, 2}, false},
      {{2, 1}, false},
      {{1, kInf}, false},
      {{-kInf, 1}, false},
      {{kNaN}, false},
      {{0, kNaN, 1}, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::PrintToString(c.bounds));
    EXPECT_EQ(valid_bucket_bounds(c.bounds), c.valid);
  }
}

struct PlacementCase {
  double value;
  std::size_t bucket;  // index into the non-cumulative buckets; bounds.size() is +Inf
};

// Observes each value into a fresh histogram and checks the one bucket it lands in, via the cumulative
// output: every entry before the bucket is 0, every entry from it on is 1.
void expect_placements(const std::vector<double>& bounds, const std::vector<PlacementCase>& cases) {
  for (const PlacementCase& c : cases) {
    SCOPED_TRACE(::testing::Message() << "value " << c.value << " bounds " << bounds.size());
    ShardedHistogram histogram(bounds, 1, 1);
    histogram.observe(0, 0, c.value);
    Counts expected(bounds.size() + 1, 0);
    for (std::size_t i = c.bucket; i < expected.size(); ++i) expected[i] = 1;
    const ShardedHistogram::Snapshot snapshot = snapshot_of(histogram, 0);
    EXPECT_EQ(snapshot.cumulative, expected);
    EXPECT_EQ(snapshot.count, 1u);
  }
}

TEST(ShardedHistogram, PlacesValuesAtAndAroundBoundsInclusively) {
  expect_placements({0.1, 1, 10}, {
                                      {-kInf, 0},
                                      {-5, 0},
                                      {0, 0},
                                      {-0.0, 0},
                                      {0.1, 0},
                                      {std::nextafter(0.1, kInf), 1},
                                      {std::nextafter(1.0, 0.0), 1},
                                      {1, 1},
                                      {std::nextafter(1.0, kInf), 2},
                                      {10, 2},
                                      {std::nextafter(10.0, kInf), 3},
                                      {1e300, 3},
                                      {kInf, 3},
                                      {kNaN, 3},
                                  });
}

TEST(ShardedHistogram, PlacesValuesWithManyBoundsInclusively) {
  // More bounds than the forward scan handles, so the binary search path is taken.
  std::vector<double> bounds;
  for (int i = 1; i <= 30; ++i) bounds.push_back(i);
  expect_placements(bounds, {
                                {-kInf, 0},
                                {0, 0},
                                {1, 0},
                                {std::nextafter(1.0, kInf), 1},
                                {2, 1},
                                {15, 14},
                                {std::nextafter(15.0, 0.0), 14},
                                {std::nextafter(15.0, kInf), 15},
                                {30, 29},
                                {std::nextafter(30.0, kInf), 30},
                                {kInf, 30},
                                {kNaN, 30},
                            });
}

TEST(ShardedHistogram, CollectsCumulativeBucketsCountAndSum) {
  ShardedHistogram histogram({0.25, 0.5, 1}, 1, 1);
  for (const double value : {0.125, 0.25, 0.5, 0.75, 0.75, 2.0, 4.0}) histogram.observe(0, 0, value);
  const ShardedHistogram::Snapshot snapshot = snapshot_of(histogram, 0);
  EXPECT_EQ(snapshot.cumulative, (Counts{2, 3, 5, 7}));
  EXPECT_EQ(snapshot.count, 7u);
  EXPECT_EQ(snapshot.cumulative.back(), snapshot.count);
  EXPECT_EQ(snapshot.sum, 8.375);
  EXPECT_EQ(histogram.count(0), 7u);
}

TEST(ShardedHistogram, EmptySeriesCollectsZeros) {
  ShardedHistogram histogram(default_duration_buckets(), 2, 3);
  const ShardedHistogram::Snapshot snapshot = snapshot_of(histogram, 1);
  EXPECT_EQ(snapshot.cumulative, Counts(default_duration_buckets().size() + 1, 0));
  EXPECT_EQ(snapshot.count, 0u);
  EXPECT_EQ(snapshot.sum, 0.0);
  EXPECT_EQ(histogram.count(1), 0u);
}

TEST(ShardedHistogram, CountsNaNInInfAndCountButNotInSum) {
  ShardedHistogram histogram({1}, 1, 1);
  histogram.observe(0, 0, 0.5);
  histogram.observe(0, 0, kNaN);
  const ShardedHistogram::Snapshot snapshot = snapshot_of(histogram, 0);
  EXPECT_EQ(snapshot.cumulative, (Counts{1, 2}));
  EXPECT_EQ(snapshot.count, 2u);
  EXPECT_EQ(snapshot.sum, 0.5);
  EXPECT_EQ(histogram.count(0), 2u);
}

TEST(ShardedHistogram, KeepsSeriesIsolated) {
  ShardedHistogram histogram({1, 2}, 3, 2);
  histogram.observe(0, 1, 1.5);
  histogram.observe(1, 1, 0.5);
  histogram.observe(1, 2, 3);
  EXPECT_EQ(histogram.count(0), 0u);
  EXPECT_EQ(histogram.count(1), 2u);
  EXPECT_EQ(histogram.count(2), 1u);

  const ShardedHistogram::Snapshot first = snapshot_of(histogram, 0);
  EXPECT_EQ(first.cumulative, (Counts{0, 0, 0}));
  EXPECT_EQ(first.sum, 0.0);
  const ShardedHistogram::Snapshot second = snapshot_of(histogram, 1);
  EXPECT_EQ(second.cumulative, (Counts{1, 2, 2}));
  EXPECT_EQ(second.sum, 2.0);
  const ShardedHistogram::Snapshot third = snapshot_of(histogram, 2);
  EXPECT_EQ(third.cumulative, (Counts{0, 0, 1}));
  EXPECT_EQ(third.sum, 3.0);
}

TEST(ShardedHistogram, MergesShards) {
  ShardedHistogram histogram({1, 10}, 2, 4);
  EXPECT_EQ(histogram.shard_count(), 4u);
  EXPECT_EQ(histogram.series_count(), 2u);
  EXPECT_EQ(histogram.upper_bounds(), (std::vector<double>{1, 10}));
  histogram.observe(0, 1, 0.5);
  histogram.observe(1, 1, 5);
  histogram.observe(2, 1, 50);
  histogram.observe(3, 1, 1);
  histogram.observe(3, 1, 10);
  histogram.observe(3, 0, 7);
  const ShardedHistogram::Snapshot snapshot = snapshot_of(histogram, 1);
  EXPECT_EQ(snapshot.cumulative, (Counts{2, 4, 5}));
  EXPECT_EQ(snapshot.count, 5u);
  EXPECT_EQ(snapshot.sum, 66.5);
  EXPECT_EQ(histogram.count(1), 5u);
  EXPECT_EQ(histogram.count(0), 1u);
}

TEST(ShardedHistogram, ConcurrentWritersAndCollectorEndWithExactTotals) {
  // Values are multiples of 0.25, so every partial sum is exact and the final sum does not depend on order.
  constexpr std::size_t kShards = 4;
  constexpr std::uint64_t kObservationsPerShard = 100000;  // a multiple of the 10-value cycle below
  const std::vector<double> bounds = {0.25, 0.5, 1, 2};
  ShardedHistogram histogram(bounds, 2, kShards);

  std::atomic<bool> writers_done{false};
  std::uint64_t collections = 0;
  std::uint64_t violations = 0;
  std::thread collector([&] {
    ShardedHistogram::Snapshot previous;
    previous.cumulative.assign(bounds.size() + 1, 0);
    do {
      ShardedHistogram::Snapshot snapshot;
      histogram.collect(0, snapshot);
      ++collections;
      // Each cell only grows and a thread never reads an older value of a cell after a newer one, so every
      // bucket total is monotonic across scrapes; cumulative order and +Inf == count hold in every scrape.
      if (snapshot.cumulative.back() != snapshot.count) ++violations;
      for (std::size_t i = 0; i < snapshot.cumulative.size(); ++i) {
        if (i > 0 && snapshot.cumulative[i] < snapshot.cumulative[i - 1]) ++violations;
        if (snapshot.cumulative[i] < previous.cumulative[i]) ++violations;
      }
      if (snapshot.sum < previous.sum) ++violations;
      if (histogram.count(1) != 0) ++violations;
      previous = snapshot;
    } while (!writers_done.load(std::memory_order_acquire));
  });

  std::vector<std::thread> writers;
  for (std::size_t shard = 0; shard < kShards; ++shard) {
    writers.emplace_back([&histogram, shard] {
      for (std::uint64_t i = 0; i < kObservationsPerShard; ++i) {
        histogram.observe(shard, 0, static_cast<double>(i % 10) * 0.25);
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  writers_done.store(true, std::memory_order_release);
  collector.join();

  EXPECT_GE(collections, 1u);
  EXPECT_EQ(violations, 0u);
  // Per cycle of 10 values 0, 0.25, ..., 2.25: le 0.25 gets 2, le 0.5 gets 1, le 1 gets 2, le 2 gets 4 and
  // +Inf gets 1, and the sum is 11.25.
  constexpr std::uint64_t kCycles = kShards * kObservationsPerShard / 10;
  const ShardedHistogram::Snapshot snapshot = snapshot_of(histogram, 0);
  EXPECT_EQ(snapshot.cumulative, (Counts{2 * kCycles, 3 * kCycles, 5 * kCycles, 9 * kCycles, 10 * kCycles}));
  EXPECT_EQ(snapshot.count, 10 * kCycles);
  EXPECT_EQ(snapshot.sum, 11.25 * static_cast<double>(kCycles));
  EXPECT_EQ(histogram.count(0), 10 * kCycles);
  EXPECT_EQ(histogram.count(1), 0u);
}

}  // namespace
}  // namespace metrics
