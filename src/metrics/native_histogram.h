#pragma once
// NativeHistogram: the exponential buckets of Prometheus native histograms, for a label space fixed up
// front and written by several threads without locks, like ShardedHistogram (one writer per shard, relaxed
// load/store pairs, zero pages touched only for series observed). It keeps only the buckets: the count and
// sum come from the ShardedHistogram observed alongside.
//
// Bucket k of schema s holds (2^((k-1)/2^s), 2^(k/2^s)]: 2^s buckets per power of two, each about
// 2^(2^-s) - 1 wide relative to its bound (schema 3: 9 %). Values at or below the zero threshold (and any
// negative value: durations are never negative) are counted in the zero bucket. Counts are kept at the
// configured schema over kRangeOctaves powers of two above the zero threshold, so observation is a bit
// extraction, a search among 2^s fractions and one increment; a value beyond the range is counted in its
// top bucket. collect() merges the shards and, while more buckets are populated than the bucket limit,
// halves the resolution (schema - 1, adjacent buckets merged), as client_golang does, down to schema -4.
#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "metrics/zeroed_pages.h"

namespace metrics {

struct NativeHistogramOptions {
  int schema = 3;                  // -4..5; the resolution, before any reduction to the bucket limit
  double zero_threshold = 0x1p-20; // seconds (about 0.95 µs): below any request's duration
  std::size_t bucket_limit = 160;  // populated buckets exposed at most; 0 = no limit
};

bool valid_native_options(const NativeHistogramOptions& options) noexcept;

struct NativeSnapshot {
  // collect()'s working space, kept for its capacity: the summed cells and the populated buckets.
  std::vector<std::uint64_t> sums;
  std::vector<std::pair<int, std::uint64_t>> scratch;
  struct Span {
    std::int32_t offset;  // from the end of the previous span (the first: the index of its first bucket)
    std::uint32_t length;
  };
  int schema = 0;
  double zero_threshold = 0;
  std::uint64_t zero_count = 0;
  std::uint64_t bucket_total = 0;   // zero_count plus every bucket's count
  std::vector<Span> spans;
  std::vector<std::int64_t> deltas;  // the first bucket's count, then each one's difference from the previous
};

class NativeHistogram {
 public:
  static constexpr int kRangeOctaves = 40;  // above the zero threshold: 2^-20 s .. 2^20 s by default

  // Precondition: valid_native_options(options).
  NativeHistogram(const NativeHistogramOptions& options, std::size_t series_count, std::size_t shard_count);
  NativeHistogram(const NativeHistogram&) = delete;
  NativeHistogram& operator=(const NativeHistogram&) = delete;

  // Inline: it is on every request's path, next to the classic histogram's observation.
  void observe(std::size_t shard, std::size_t series, double value) noexcept {
    increment(cell_for(shard, series, value));
  }
  // observe() in two halves, so that a caller making other stores first can take the address before them
  // (the cells are integers, which the compiler must assume may alias this object's sizes). Null for NaN:
  // counted by the classic histogram alone, as Prometheus allows.
  std::uint64_t* cell_for(std::size_t shard, std::size_t series, double value) const noexcept {
    std::uint64_t* const zero_bucket = cells_ + series_cell(shard, series);
    if (value > options_.zero_threshold) {
      // Above the threshold the key is at least min_key_; +Inf's bits read as 2^1024, in the top bucket.
      const auto offset = static_cast<std::size_t>(key_of(value) - min_key_);
      return zero_bucket + 1 + std::min(offset, bucket_cells_ - 1);
    }
    return value == value ? zero_bucket : nullptr;
  }
  static void increment(std::uint64_t* cell) noexcept {
    if (cell == nullptr) return;
    const std::atomic_ref<std::uint64_t> ref(*cell);
    ref.store(ref.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  void collect(std::size_t series, NativeSnapshot& out) const;

  const NativeHistogramOptions& options() const noexcept { return options_; }
  // The bucket a value above the zero threshold falls in, at the configured schema (before clamping).
  int key_of(double value) const noexcept {
    // value = frac * 2^exp with frac in [0.5, 1), straight from the bits (a normal, positive double).
    const auto bits = std::bit_cast<std::uint64_t>(value);
    const int exp = static_cast<int>((bits >> 52) & 0x7ff) - 1022;
    if (options_.schema > 0) {
      // The bucket within the power of two is how many of its lower fractions lie below frac: those
      // below frac's slice, plus the one inside the slice if frac is above it.
      // frac and the fractions share an exponent, so their order is their mantissas' order: an integer
      // comparison, without moving frac back to a floating-point register. Through data(): the indices are
      // in range by construction, and this is the hot path.
      const std::uint64_t mantissa = bits & 0x000fffffffffffffu;
      const std::size_t below = bounds_below_slice_.data()[(bits >> 44) & 0xff];
      const int within = static_cast<int>(below) + (bound_mantissas_.data()[below] < mantissa ? 1 : 0);
      return within + ((exp - 1) << options_.schema);
    }
    // Schema 0 and below: bucket k of schema 0 is (2^(k-1), 2^k], and 2^-s of them make one of schema s.
    const int key = (bits & 0x000fffffffffffffu) == 0 ? exp - 1 : exp;  // frac == 0.5: a power of two
    const int shift = -options_.schema;
    return (key + (1 << shift) - 1) >> shift;
  }

 private:
  std::size_t series_cell(std::size_t shard, std::size_t series) const noexcept {
    return (shard * series_count_ + series) * cells_per_series_;
  }

  NativeHistogramOptions options_;
  std::size_t series_count_;
  std::size_t shard_count_;
  int min_key_;                    // the bucket holding values just above the zero threshold
  std::size_t bucket_cells_;       // buckets kept per series
  std::size_t cells_per_series_;   // the zero bucket, then bucket_cells_
  // The mantissa bits of the fractions between buckets, 2^(j/2^s - 1) for j < 2^s (s > 0), then all ones
  // (above every mantissa). Each fraction is in [0.5, 1), so its mantissa orders it among the others.
  std::array<std::uint64_t, 33> bound_mantissas_{};
  // For each 1/512 slice of [0.5, 1) (the top 8 bits of the mantissa), how many bounds lie below the
  // slice: bounds are at least 0.011 apart (schema 5), so at most one more lies within it.
  std::array<std::uint8_t, 256> bounds_below_slice_{};
  ZeroedPages memory_;
  std::uint64_t* cells_;
};

}  // namespace metrics
