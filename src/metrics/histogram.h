#pragma once
// ShardedHistogram: a family of histogram series with a label space fixed up front (series are numbered
// 0..series_count-1 by the caller), written by several threads without locks and merged on collection.
//
// Each writer thread owns one shard (0..shard_count-1) and is its only writer: observe() is a bucket search
// plus relaxed atomic load/store pairs on cache lines no other thread writes, so it costs a few
// nanoseconds and never contends. collect() may run concurrently on any thread; it sums the shards with
// relaxed loads, so a scrape may see an observation's bucket before its count (Prometheus tolerates such
// skew); once writers are quiet the totals are exact. Buckets are cumulative on output and end at +Inf,
// whose count equals count.
//
// The counters live in zero pages that the kernel provides on first write (ZeroedPages): a label space of
// hundreds of series per shard costs memory only for the series actually observed, and nothing at start-up.
// Each shard keeps the counts of all its series together, so count() — the check that lets exposition skip
// series never observed — reads a few dense pages rather than one line of every series.
//
// Exemplars (when constructed with them): each shard keeps one slot per series per bucket, a cache line
// holding the newest exemplar observed there — an id of up to kExemplarIdBytes bytes, the value and a
// timestamp. The shard's writer replaces it under a per-slot sequence counter (a seqlock: no lock, no
// locked instruction, nothing shared with other writers); collect() retries a slot caught mid-write and
// returns, per bucket, the newest exemplar among the shards. The slots live in zero pages too: 64 bytes per
// bucket per observed series per shard, touched only for series observed with an exemplar.
#include <algorithm>
#include <atomic>
#include <bit>
#include <cassert>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "metrics/zeroed_pages.h"

namespace metrics {

// Default request-duration buckets in seconds: from 50 µs (well below 1 ms) up to 10 s.
std::vector<double> default_duration_buckets();

// True when bounds are finite, strictly increasing and non-empty (+Inf is implicit and must not be given).
bool valid_bucket_bounds(std::span<const double> bounds) noexcept;

inline constexpr std::size_t kExemplarIdBytes = 40;
// An observation replaces its bucket's exemplar only when that one is at least this much older (by the
// observations' own timestamps), or from a clock that went back.
inline constexpr std::uint64_t kExemplarRefreshNanos = 1'000'000;

struct Exemplar {
  double value = 0;
  std::int64_t unix_nanos = 0;  // when it was observed
  std::uint8_t id_length = 0;
  char id[kExemplarIdBytes] = {};

  std::string_view trace_id() const noexcept { return {id, id_length}; }
};

class ShardedHistogram {
 public:
  struct Snapshot {
    std::vector<std::uint64_t> cumulative;  // one per upper bound, then +Inf
    std::uint64_t count = 0;
    double sum = 0;
    // Empty for a histogram without exemplars; else one per bucket, unset (id_length 0) where none was seen.
    std::vector<Exemplar> exemplars;
  };

  // Precondition: valid_bucket_bounds(upper_bounds).
  ShardedHistogram(std::vector<double> upper_bounds, std::size_t series_count, std::size_t shard_count,
                   bool with_exemplars = false);
  ~ShardedHistogram();
  ShardedHistogram(const ShardedHistogram&) = delete;
  ShardedHistogram& operator=(const ShardedHistogram&) = delete;

  void observe(std::size_t shard, std::size_t series, double value) noexcept;
  // Also makes {id, value, unix_nanos} the bucket's exemplar in this shard. The id is printable text padded
  // with zeros to kExemplarIdBytes (fixed-size moves on the request path); an empty id (a zero first
  // byte), a NaN value or a histogram without exemplars records the observation alone.
  void observe(std::size_t shard, std::size_t series, double value, std::span<const char, kExemplarIdBytes> id,
               std::int64_t unix_nanos) noexcept;
  // The same from unpadded text (tests, cold paths); an id longer than kExemplarIdBytes records none.
  void observe(std::size_t shard, std::size_t series, double value, std::string_view id,
               std::int64_t unix_nanos) noexcept;

  // Total observations of one series over all shards (cheap: lets exposition skip series never observed).
  std::uint64_t count(std::size_t series) const noexcept;
  void collect(std::size_t series, Snapshot& out) const;

  const std::vector<double>& upper_bounds() const noexcept { return upper_bounds_; }
  std::size_t series_count() const noexcept { return series_count_; }
  std::size_t shard_count() const noexcept { return shard_count_; }

 private:
  static constexpr std::size_t kCacheLineBytes = 64;
  static constexpr std::size_t kCellsPerLine = kCacheLineBytes / sizeof(std::uint64_t);
  static constexpr std::size_t kExemplarIdWords = kExemplarIdBytes / sizeof(std::uint64_t);
  static_assert(kExemplarIdWords == 5 && 3 + kExemplarIdWords == kCellsPerLine, "an exemplar slot is one cache line");

  // Cells are plain integers in zero-filled pages, always accessed atomically through atomic_ref.
  std::atomic_ref<std::uint64_t> cell(std::size_t index) const noexcept {
    return std::atomic_ref<std::uint64_t>(cells_[index]);
  }
  std::size_t count_cell(std::size_t shard, std::size_t series) const noexcept {
    return shard * shard_stride_ + series;
  }
  // The first of the series' buckets (+Inf last), followed by its sum as double bits.
  std::size_t series_cell(std::size_t shard, std::size_t series) const noexcept {
    return shard * shard_stride_ + counts_stride_ + series * series_stride_;
  }
  std::size_t bucket_index(double value) const noexcept;
  void record(std::size_t shard, std::size_t series, double value, std::size_t bucket) noexcept;
  // The rare half of an exemplar observation, out of line: the slot's nine stores.
  static void write_exemplar(std::uint64_t* slot, double value, std::int64_t unix_nanos,
                             std::span<const char, kExemplarIdBytes> id) noexcept;
  // The first of the 8 words of a slot: sequence, value bits, timestamp, then the id's 5 words.
  std::size_t exemplar_cell(std::size_t shard, std::size_t series, std::size_t bucket) const noexcept {
    return ((shard * series_count_ + series) * (upper_bounds_.size() + 1) + bucket) * kCellsPerLine;
  }
  std::atomic_ref<std::uint64_t> exemplar_word(std::size_t index) const noexcept {
    return std::atomic_ref<std::uint64_t>(exemplar_cells_[index]);
  }
  bool read_exemplar(std::size_t cell, Exemplar& out) const noexcept;

  std::vector<double> upper_bounds_;
  std::size_t series_count_;
  std::size_t shard_count_;
  std::size_t series_stride_;  // cells per series: buckets + 1 (+Inf) + sum bits
  std::size_t counts_stride_;  // cells for the counts of every series, rounded up to whole cache lines
  std::size_t shard_stride_;   // cells per shard, rounded up to whole cache lines
  ZeroedPages memory_;
  std::uint64_t* cells_;
  ZeroedPages exemplar_memory_;       // empty without exemplars
  std::uint64_t* exemplar_cells_;     // null without exemplars
};

// The observation path is defined here so that it inlines into its callers (RequestMetrics): across a
// translation unit, the call and its register saves cost as much as the observation.

// Up to this many bounds a forward scan beats binary search: it touches one or two cache lines and
// predicts well, since most observations land in the first few buckets.
inline constexpr std::size_t kLinearScanLimit = 20;

inline std::size_t ShardedHistogram::bucket_index(double value) const noexcept {
  const std::size_t finite_buckets = upper_bounds_.size();
  // NaN compares false against every bound; it is counted in +Inf (and in count) so that no observation
  // disappears, but it is kept out of the sum, which it would otherwise poison for the life of the process.
  if (std::isnan(value)) return finite_buckets;
  const double* const bounds = upper_bounds_.data();
  if (finite_buckets <= kLinearScanLimit) {
    std::size_t i = 0;
    while (i < finite_buckets && value > bounds[i]) ++i;
    return i;
  }
  // le is inclusive: the first bound not below the value.
  return static_cast<std::size_t>(std::lower_bound(bounds, bounds + finite_buckets, value) - bounds);
}

// Every address is computed before the first store: the cells are integers, which the compiler must
// assume may alias this object's sizes, so a store would force it to reload them.
inline void ShardedHistogram::record(std::size_t shard, std::size_t series, double value,
                                     std::size_t bucket) noexcept {
  assert(shard < shard_count_ && series < series_count_ && bucket == bucket_index(value));
  std::uint64_t* const buckets = cells_ + series_cell(shard, series);
  std::uint64_t* const count = cells_ + count_cell(shard, series);
  std::uint64_t* const sum_bits = buckets + upper_bounds_.size() + 1;
  // Each shard has a single writer, so a plain load and store suffice: no locked read-modify-write.
  const auto increment = [](std::uint64_t* counter) noexcept {
    const std::atomic_ref<std::uint64_t> ref(*counter);
    ref.store(ref.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  };
  increment(buckets + bucket);
  increment(count);
  if (!std::isnan(value)) {
    const std::atomic_ref<std::uint64_t> sum(*sum_bits);
    sum.store(std::bit_cast<std::uint64_t>(std::bit_cast<double>(sum.load(std::memory_order_relaxed)) + value),
              std::memory_order_relaxed);
  }
}

inline void ShardedHistogram::observe(std::size_t shard, std::size_t series, double value) noexcept {
  record(shard, series, value, bucket_index(value));
}

inline void ShardedHistogram::observe(std::size_t shard, std::size_t series, double value,
                                      std::span<const char, kExemplarIdBytes> id, std::int64_t unix_nanos) noexcept {
  const std::size_t bucket = bucket_index(value);
  // The slot's address too is taken before record()'s stores.
  std::uint64_t* const slot =
      exemplar_cells_ == nullptr ? nullptr : exemplar_cells_ + exemplar_cell(shard, series, bucket);
  record(shard, series, value, bucket);
  if (slot == nullptr || id[0] == '\0' || std::isnan(value)) return;
  // A bucket's exemplar is refreshed at most once per kExemplarRefreshNanos of the observations' time:
  // scraped every few seconds, an exemplar a millisecond older is as telling, and under load most
  // observations then cost one load and a comparison instead of nine stores. Only this shard's writer
  // stores the timestamp (word 2), so a relaxed load of it is exact.
  const std::uint64_t last = std::atomic_ref<std::uint64_t>(slot[2]).load(std::memory_order_relaxed);
  if (last != 0 && static_cast<std::uint64_t>(unix_nanos) - last < kExemplarRefreshNanos) return;
  write_exemplar(slot, value, unix_nanos, id);
}

}  // namespace metrics
