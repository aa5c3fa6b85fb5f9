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
    const std::size_t bound_count = std::size_t{1} << options.schema;
    std::array<double, 33> bounds{};  // the fractions, then 2 (above every fraction)
    for (std::size_t j = 0; j < bound_count; ++j) {
      bounds[j] = std::exp2(static_cast<double>(j) / static_cast<double>(bound_count) - 1);
      bound_mantissas_[j] = std::bit_cast<std::uint64_t>(bounds[j]) & 0x000fffffffffffffu;
    }
    bounds[bound_count] = 2;
    bound_mantissas_[bound_count] = ~std::uint64_t{0};
    for (std::size_t slice = 0; slice < bounds_below_slice_.size(); ++slice) {
      const double start = 0.5 + static_cast<double>(slice) / 512;
      std::size_t below = 0;
      while (below < bound_count && bounds[below] < start) ++below;
      bounds_below_slice_[slice] = static_cast<std::uint8_t>(below);
    }
  }
  min_key_ = key_of(options.zero_threshold);
}

void NativeHistogram::collect(std::size_t series, NativeSnapshot& out) const {
  assert(series < series_count_);
  std::vector<std::pair<int, std::uint64_t>>& buckets = out.scratch;  // populated (key, count), ascending
  buckets.clear();
  std::uint64_t zero = 0;
  std::uint64_t total = 0;
  for (std::size_t shard = 0; shard < shard_count_; ++shard) {
    zero += cell_ref(cells_, series_cell(shard, series)).load(std::memory_order_relaxed);
  }
  total = zero;
  // Shard by shard, each a contiguous run of cells, summed into the scratch counts (raw pointers: this
  // loop is most of a protobuf scrape's time).
  const std::size_t cells = bucket_cells_;
  out.sums.assign(cells, 0);
  std::uint64_t* const sums = out.sums.data();
  for (std::size_t shard = 0; shard < shard_count_; ++shard) {
    std::uint64_t* const first = cells_ + series_cell(shard, series) + 1;
    for (std::size_t i = 0; i < cells; ++i) {
      sums[i] += std::atomic_ref<std::uint64_t>(first[i]).load(std::memory_order_relaxed);
    }
  }
  for (std::size_t i = 0; i < cells; ++i) {
    if (sums[i] == 0) continue;
    buckets.emplace_back(min_key_ + static_cast<int>(i), sums[i]);
    total += sums[i];
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
