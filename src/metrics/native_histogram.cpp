#include "metrics/native_histogram.h"

#include <algorithm>
#include <atomic>
#include <bit>
#include <cassert>
#include <cmath>
#include <utility>

namespace metrics {

namespace {

constexpr int kMinSchema = -4;
constexpr int kMaxSchema = 5;

std::atomic_ref<std::uint64_t> cell_ref(std::uint64_t* cells, std::size_t index) noexcept {
  return std::atomic_ref<std::uint64_t>(cells[index]);
}

}  // namespace

bool valid_native_options(const NativeHistogramOptions& options) noexcept {
  // A normal double: the key computation reads the exponent bits straight.
  return options.schema >= kMinSchema && options.schema <= kMaxSchema && std::isnormal(options.zero_threshold) &&
         options.zero_threshold > 0 && options.zero_threshold < 1e300;
}

NativeHistogram::NativeHistogram(const NativeHistogramOptions& options, std::size_t series_count,
                                 std::size_t shard_count)
    : options_(options),
      series_count_(series_count),
      shard_count_(shard_count),
      min_key_(0),
      bucket_cells_(options.schema >= 0 ? (std::size_t{kRangeOctaves} << options.schema) + 1
                                        : (std::size_t{kRangeOctaves} >> -options.schema) + 2),
      cells_per_series_(1 + bucket_cells_),
      memory_(shard_count * series_count * cells_per_series_ * sizeof(std::uint64_t)),
      cells_(static_cast<std::uint64_t*>(memory_.data())) {
  assert(valid_native_options(options));
  if (options.schema > 0) {
    bound_count_ = std::size_t{1} << options.schema;
    for (std::size_t j = 0; j < bound_count_; ++j) {
      bounds_[j] = std::exp2(static_cast<double>(j) / static_cast<double>(bound_count_) - 1);
    }
  }
  min_key_ = key_of(options.zero_threshold);
}

int NativeHistogram::key_of(double value) const noexcept {
  // value = frac * 2^exp with frac in [0.5, 1), straight from the bits (a normal, positive double).
  const auto bits = std::bit_cast<std::uint64_t>(value);
  const int exp = static_cast<int>((bits >> 52) & 0x7ff) - 1022;
  const double frac = std::bit_cast<double>((bits & 0x000fffffffffffffu) | 0x3fe0000000000000u);
  if (options_.schema > 0) {
    // The bucket within the power of two: how many of its lower fractions lie below frac.
    int within = 0;
    for (std::size_t j = 0; j < bound_count_; ++j) within += bounds_[j] < frac ? 1 : 0;
    return within + (exp - 1) * static_cast<int>(bound_count_);
  }
  // Schema 0 and below: bucket k of schema 0 is (2^(k-1), 2^k], and 2^-s of them make one of schema s.
  const int key = frac == 0.5 ? exp - 1 : exp;
  const int shift = -options_.schema;
  return (key + (1 << shift) - 1) >> shift;
}

void NativeHistogram::observe(std::size_t shard, std::size_t series, double value) noexcept {
  assert(shard < shard_count_ && series < series_count_);
  if (std::isnan(value)) return;  // counted by the classic histogram alone, as Prometheus allows
  std::size_t index = series_cell(shard, series);
  if (value > options_.zero_threshold) {
    const int offset = key_of(std::min(value, 0x1p1000)) - min_key_;
    index += 1 + std::min(static_cast<std::size_t>(std::max(offset, 0)), bucket_cells_ - 1);
  }
  const std::atomic_ref<std::uint64_t> cell = cell_ref(cells_, index);
  cell.store(cell.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

void NativeHistogram::collect(std::size_t series, NativeSnapshot& out) const {
  assert(series < series_count_);
  std::vector<std::pair<int, std::uint64_t>> buckets;  // populated (key, count), ascending
  std::uint64_t zero = 0;
  std::uint64_t total = 0;
  for (std::size_t shard = 0; shard < shard_count_; ++shard) {
    zero += cell_ref(cells_, series_cell(shard, series)).load(std::memory_order_relaxed);
  }
  total = zero;
  for (std::size_t i = 0; i < bucket_cells_; ++i) {
    std::uint64_t count = 0;
    for (std::size_t shard = 0; shard < shard_count_; ++shard) {
      count += cell_ref(cells_, series_cell(shard, series) + 1 + i).load(std::memory_order_relaxed);
    }
    if (count == 0) continue;
    buckets.emplace_back(min_key_ + static_cast<int>(i), count);
    total += count;
  }

  int schema = options_.schema;
  while (options_.bucket_limit != 0 && buckets.size() > options_.bucket_limit && schema > kMinSchema) {
    // Half the resolution: bucket k becomes ceil(k / 2), so (k - 1, k] pairs merge (C++20 >> floors).
    std::size_t kept = 0;
    for (const auto& [key, count] : buckets) {
      const int merged = (key + 1) >> 1;
      if (kept > 0 && buckets[kept - 1].first == merged) {
        buckets[kept - 1].second += count;
      } else {
        buckets[kept++] = {merged, count};
      }
    }
    buckets.resize(kept);
    --schema;
  }

  out.schema = schema;
  out.zero_threshold = options_.zero_threshold;
  out.zero_count = zero;
  out.bucket_total = total;
  out.spans.clear();
  out.deltas.clear();
  int next_key = 0;  // the key after the previous span's last bucket
  std::int64_t previous = 0;
  for (const auto& [key, count] : buckets) {
    if (out.spans.empty() || key != next_key) {
      out.spans.push_back({out.spans.empty() ? key : key - next_key, 0});
    }
    ++out.spans.back().length;
    next_key = key + 1;
    out.deltas.push_back(static_cast<std::int64_t>(count) - previous);
    previous = static_cast<std::int64_t>(count);
  }
}

}  // namespace metrics
