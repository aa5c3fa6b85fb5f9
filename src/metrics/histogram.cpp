#include "metrics/histogram.h"

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>
#include <cstring>

namespace metrics {

namespace {

constexpr std::size_t round_up(std::size_t n, std::size_t multiple) noexcept {
  return (n + multiple - 1) / multiple * multiple;
}

}  // namespace

std::vector<double> default_duration_buckets() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,    0.1,    0.25,    0.5,    1,     2.5,    5,     10};
}

bool valid_bucket_bounds(std::span<const double> bounds) noexcept {
  if (bounds.empty()) return false;
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) return false;
    if (i > 0 && !(bounds[i - 1] < bounds[i])) return false;
  }
  return true;
}

ShardedHistogram::ShardedHistogram(std::vector<double> upper_bounds, std::size_t series_count,
                                   std::size_t shard_count, bool with_exemplars)
    : upper_bounds_(std::move(upper_bounds)),
      series_count_(series_count),
      shard_count_(shard_count),
      series_stride_(upper_bounds_.size() + 2),
      counts_stride_(round_up(series_count, kCellsPerLine)),
      shard_stride_(round_up(counts_stride_ + series_count * series_stride_, kCellsPerLine)),
      memory_(shard_count * shard_stride_ * sizeof(std::uint64_t)),
      // Zero-filled pages hold zero-valued integers already: uint64_t needs no construction (implicit
      // lifetime), and a page-aligned mapping puts every shard on a cache-line boundary of its own.
      cells_(static_cast<std::uint64_t*>(memory_.data())),
      exemplar_memory_(with_exemplars
                           ? shard_count * series_count * (upper_bounds_.size() + 1) * kCacheLineBytes
                           : 0),
      exemplar_cells_(static_cast<std::uint64_t*>(exemplar_memory_.data())) {
  static_assert(std::atomic_ref<std::uint64_t>::required_alignment <= alignof(std::uint64_t));
  assert(valid_bucket_bounds(upper_bounds_));
}

ShardedHistogram::~ShardedHistogram() = default;

void ShardedHistogram::observe(std::size_t shard, std::size_t series, double value, std::string_view id,
                               std::int64_t unix_nanos) noexcept {
  char padded[kExemplarIdBytes] = {};
  if (id.size() <= kExemplarIdBytes) std::memcpy(padded, id.data(), id.size());
  observe(shard, series, value, std::span<const char, kExemplarIdBytes>(padded), unix_nanos);
}

void ShardedHistogram::write_exemplar(std::uint64_t* const slot, double value, std::int64_t unix_nanos,
                                      std::span<const char, kExemplarIdBytes> id) noexcept {
  std::uint64_t id_words[kExemplarIdWords];
  std::memcpy(id_words, id.data(), kExemplarIdBytes);
  // The writer's half of a seqlock (one writer per shard), without fences: the odd sequence marks the
  // slot as being written, and each data word is a release store, so a reader that acquires any word of
  // this write also sees that mark (or a later sequence) when it checks again; the release store of the
  // next even sequence publishes the whole. On x86 these are all plain moves: no lock, no locked
  // instruction, nothing another thread writes.
  const auto word = [slot](std::size_t i) noexcept { return std::atomic_ref<std::uint64_t>(slot[i]); };
  const std::uint64_t before = word(0).load(std::memory_order_relaxed);
  word(0).store(before + 1, std::memory_order_relaxed);
  word(1).store(std::bit_cast<std::uint64_t>(value), std::memory_order_release);
  word(2).store(static_cast<std::uint64_t>(unix_nanos), std::memory_order_release);
  word(3).store(id_words[0], std::memory_order_release);
  word(4).store(id_words[1], std::memory_order_release);
  word(5).store(id_words[2], std::memory_order_release);
  word(6).store(id_words[3], std::memory_order_release);
  word(7).store(id_words[4], std::memory_order_release);
  word(0).store(before + 2, std::memory_order_release);
}

bool ShardedHistogram::read_exemplar(std::size_t slot, Exemplar& out) const noexcept {
  // A writer holds a slot for a few nanoseconds; a reader that keeps catching it mid-write gives up on this
  // scrape's exemplar rather than spin.
  constexpr int kAttempts = 16;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    const std::uint64_t before = exemplar_word(slot).load(std::memory_order_acquire);
    if (before == 0) return false;  // never written
    if ((before & 1) != 0) continue;
    // Acquire loads: a word from a write still under way brings its odd sequence with it, and the check
    // below cannot be made before them.
    const std::uint64_t value_bits = exemplar_word(slot + 1).load(std::memory_order_acquire);
    const std::uint64_t nanos = exemplar_word(slot + 2).load(std::memory_order_acquire);
    std::uint64_t id_words[kExemplarIdWords];
    for (std::size_t i = 0; i < kExemplarIdWords; ++i) {
      id_words[i] = exemplar_word(slot + 3 + i).load(std::memory_order_acquire);
    }
    if (exemplar_word(slot).load(std::memory_order_relaxed) != before) continue;
    out.value = std::bit_cast<double>(value_bits);
    out.unix_nanos = static_cast<std::int64_t>(nanos);
    std::memcpy(out.id, id_words, kExemplarIdBytes);
    // Ids are printable text: the zero padding marks where one shorter than the slot ends.
    out.id_length = static_cast<std::uint8_t>(std::find(out.id, out.id + kExemplarIdBytes, '\0') - out.id);
    return true;
  }
  return false;
}

std::uint64_t ShardedHistogram::count(std::size_t series) const noexcept {
  assert(series < series_count_);
  std::uint64_t total = 0;
  for (std::size_t shard = 0; shard < shard_count_; ++shard) {
    total += cell(count_cell(shard, series)).load(std::memory_order_relaxed);
  }
  return total;
}

void ShardedHistogram::collect(std::size_t series, Snapshot& out) const {
  assert(series < series_count_);
  const std::size_t buckets = upper_bounds_.size() + 1;
  out.cumulative.assign(buckets, 0);
  double sum = 0;
  for (std::size_t shard = 0; shard < shard_count_; ++shard) {
    const std::size_t base = series_cell(shard, series);
    for (std::size_t bucket = 0; bucket < buckets; ++bucket) {
      out.cumulative[bucket] += cell(base + bucket).load(std::memory_order_relaxed);
    }
    sum += std::bit_cast<double>(cell(base + buckets).load(std::memory_order_relaxed));
  }
  for (std::size_t bucket = 1; bucket < buckets; ++bucket) out.cumulative[bucket] += out.cumulative[bucket - 1];
  // The count is taken from the buckets rather than the count cells, so a scrape racing with writers still
  // renders a self-consistent family (+Inf == _count); only _sum may lag or lead by in-flight observations.
  out.count = out.cumulative.back();
  out.sum = sum;

  out.exemplars.clear();
  if (exemplar_cells_ == nullptr) return;
  out.exemplars.resize(buckets);
  Exemplar candidate;
  for (std::size_t shard = 0; shard < shard_count_; ++shard) {
    for (std::size_t bucket = 0; bucket < buckets; ++bucket) {
      if (!read_exemplar(exemplar_cell(shard, series, bucket), candidate)) continue;
      Exemplar& newest = out.exemplars[bucket];
      if (newest.id_length == 0 || candidate.unix_nanos > newest.unix_nanos) newest = candidate;
    }
  }
}

}  // namespace metrics
