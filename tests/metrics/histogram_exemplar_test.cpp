// ShardedHistogram's exemplars: one per bucket per series, the newest wins, and a reader racing with the
// writers never sees a torn one.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "metrics/histogram.h"

namespace metrics {
namespace {

constexpr std::int64_t kMs = 1'000'000;

TEST(HistogramExemplars, NewestPerBucketAcrossShards) {
  ShardedHistogram histogram({1, 2}, 2, 2, true);
  histogram.observe(0, 1, 0.5, "a", 100 * kMs);
  histogram.observe(1, 1, 0.75, "b", 90 * kMs);   // older than shard 0's: loses
  histogram.observe(0, 1, 1.5, "c", 50 * kMs);
  histogram.observe(0, 1, 1.25, "d", 60 * kMs);   // same shard, later: replaces c
  histogram.observe(1, 0, 9, "other", 70 * kMs);  // another series
  ShardedHistogram::Snapshot snapshot;
  histogram.collect(1, snapshot);
  ASSERT_EQ(snapshot.exemplars.size(), 3u);
  EXPECT_EQ(snapshot.exemplars[0].trace_id(), "a");
  EXPECT_EQ(snapshot.exemplars[0].value, 0.5);
  EXPECT_EQ(snapshot.exemplars[0].unix_nanos, 100 * kMs);
  EXPECT_EQ(snapshot.exemplars[1].trace_id(), "d");
  EXPECT_EQ(snapshot.exemplars[1].value, 1.25);
  EXPECT_EQ(snapshot.exemplars[2].id_length, 0);
  EXPECT_EQ(snapshot.count, 4u);
  histogram.collect(0, snapshot);
  EXPECT_EQ(snapshot.exemplars[2].trace_id(), "other");
}

TEST(HistogramExemplars, IdsUpToTheSlotSizeOnly) {
  ShardedHistogram histogram({1}, 1, 1, true);
  const std::string longest(kExemplarIdBytes, 'x');
  histogram.observe(0, 0, 0.5, longest, 1);
  histogram.observe(0, 0, 2, std::string(kExemplarIdBytes + 1, 'y'), 2);  // too long: counted, no exemplar
  histogram.observe(0, 0, 3, "", 3);                                       // no id: counted, no exemplar
  ShardedHistogram::Snapshot snapshot;
  histogram.collect(0, snapshot);
  EXPECT_EQ(snapshot.exemplars[0].trace_id(), longest);
  EXPECT_EQ(snapshot.exemplars[1].id_length, 0);
  EXPECT_EQ(snapshot.count, 3u);
}

TEST(HistogramExemplars, NaNIsCountedWithoutExemplar) {
  ShardedHistogram histogram({1}, 1, 1, true);
  histogram.observe(0, 0, std::numeric_limits<double>::quiet_NaN(), "n", 1);
  ShardedHistogram::Snapshot snapshot;
  histogram.collect(0, snapshot);
  EXPECT_EQ(snapshot.count, 1u);
  EXPECT_EQ(snapshot.exemplars[1].id_length, 0);
}

TEST(HistogramExemplars, ABucketsExemplarIsRefreshedAtMostOncePerMillisecond) {
  ShardedHistogram histogram({1}, 1, 1, true);
  histogram.observe(0, 0, 0.5, "first", 10 * kMs);
  histogram.observe(0, 0, 0.6, "soon", 10 * kMs + kMs - 1);  // under 1 ms later: the exemplar stays
  ShardedHistogram::Snapshot snapshot;
  histogram.collect(0, snapshot);
  EXPECT_EQ(snapshot.exemplars[0].trace_id(), "first");
  EXPECT_EQ(snapshot.count, 2u) << "every observation is counted";
  histogram.observe(0, 0, 0.7, "later", 11 * kMs);  // 1 ms later: replaced
  histogram.collect(0, snapshot);
  EXPECT_EQ(snapshot.exemplars[0].trace_id(), "later");
  EXPECT_EQ(snapshot.exemplars[0].value, 0.7);
  histogram.observe(0, 0, 0.8, "earlier", 5 * kMs);  // a clock that went back: replaced too
  histogram.collect(0, snapshot);
  EXPECT_EQ(snapshot.exemplars[0].trace_id(), "earlier");
}

TEST(HistogramExemplars, WithoutExemplarsTheSnapshotHasNone) {
  ShardedHistogram histogram({1}, 1, 1);
  histogram.observe(0, 0, 0.5, "a", 1);
  ShardedHistogram::Snapshot snapshot;
  histogram.collect(0, snapshot);
  EXPECT_TRUE(snapshot.exemplars.empty());
  EXPECT_EQ(snapshot.count, 1u);
}

// Each writer's exemplars encode their own consistency: the id is the decimal of the sequence number,
// which is also the value and the timestamp. A torn read would mix two of them.
TEST(HistogramExemplars, ConcurrentReadersNeverSeeATornExemplar) {
  constexpr std::size_t kShards = 2;
  ShardedHistogram histogram({1e18}, 1, kShards, true);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> written[kShards] = {};
  std::vector<std::thread> writers;
  for (std::size_t shard = 0; shard < kShards; ++shard) {
    writers.emplace_back([&, shard] {
      for (std::uint64_t n = 1; !stop.load(std::memory_order_relaxed); ++n) {
        // Ids of different lengths, so a torn read would also show as a wrong length.
        const std::string id = std::to_string(n * (shard == 0 ? 1 : 1000003));
        histogram.observe(shard, 0, static_cast<double>(n), id, static_cast<std::int64_t>(n) * kMs);
        written[shard].store(n, std::memory_order_relaxed);
      }
    });
  }
  ShardedHistogram::Snapshot snapshot;
  std::uint64_t checked = 0;
  while (checked < 2000 || written[0].load() < 1000 || written[1].load() < 1000) {
    histogram.collect(0, snapshot);
    const Exemplar& exemplar = snapshot.exemplars[0];
    if (exemplar.id_length == 0) continue;
    const auto n = static_cast<std::uint64_t>(exemplar.unix_nanos / kMs);
    ASSERT_EQ(exemplar.unix_nanos % kMs, 0);
    ASSERT_EQ(exemplar.value, static_cast<double>(n));
    const std::string id(exemplar.trace_id());
    ASSERT_TRUE(id == std::to_string(n) || id == std::to_string(n * 1000003)) << id << " for " << n;
    ++checked;
  }
  stop.store(true);
  for (std::thread& writer : writers) writer.join();
}

}  // namespace
}  // namespace metrics
