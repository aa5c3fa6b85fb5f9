#include "durable/snapshot.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <exception>
#include <memory>
#include <utility>

#include "durable/data_directory.h"
#include "durable/segment.h"
#include "durable/snapshot_file.h"

namespace durable {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kFirstBytes = std::size_t{64} << 10;
constexpr std::size_t kFirstEntries = 1024;

}  // namespace

bool SnapshotCapture::grow(std::size_t more_bytes) noexcept {
  std::size_t bytes_capacity = bytes_.capacity();
  std::size_t entries_capacity = entries_.capacity();
  if (bytes_.size() + more_bytes > bytes_capacity) {
    bytes_capacity = std::max({bytes_capacity * 2, bytes_.size() + more_bytes, kFirstBytes});
  }
  if (entries_.size() + 1 > entries_capacity) entries_capacity = std::max(entries_capacity * 2, kFirstEntries);
  if (bytes_capacity == bytes_.capacity() && entries_capacity == entries_.capacity()) return true;
  const std::size_t total = bytes_capacity + entries_capacity * sizeof(Entry);
  if (total > charge_.bytes() && !charge_.resize(total)) return false;
  try {
    bytes_.reserve(bytes_capacity);
    entries_.reserve(entries_capacity);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

bool SnapshotCapture::add(std::string_view id, std::uint64_t etag, std::int64_t modified,
                          std::string_view content_type, std::string_view value,
                          const base::SharedBytes* block) noexcept {
  const bool large = block != nullptr;
  if (id.size() > kMaxIdBytes || content_type.size() > kMaxContentTypeBytes || (!large && value.size() > UINT32_MAX)) {
    return false;
  }
  if (!grow(id.size() + content_type.size() + (large ? 0 : value.size()))) return false;
  const std::size_t at = bytes_.size();
  // Within the capacity grow() reserved: neither allocates.
  bytes_.append(id).append(content_type);
  if (!large) bytes_.append(value);
  entries_.push_back(Entry{etag, modified, at, static_cast<std::uint16_t>(id.size()),
                           static_cast<std::uint16_t>(content_type.size()),
                           large ? 0u : static_cast<std::uint32_t>(value.size()), large ? *block : base::SharedBytes()});
  return true;
}

void SnapshotCapture::clear() noexcept {
  entries_.clear();
  bytes_.clear();
}

// Turns captured objects into put records and appends them in chunks: heads and small values copied into
// one buffer of fixed capacity, large values passed as pieces of their own.
class SnapshotEncoder {
 public:
  static constexpr std::size_t kChunkBytes = std::size_t{1} << 20;
  static constexpr std::size_t kMaxPieces = 512;

  SnapshotEncoder(SnapshotFileWriter& file, base::MemoryAccount& budget, std::uint64_t sync_every) noexcept
      : file_(file), charge_(budget), sync_every_(sync_every) {}

  base::Status start() noexcept {
    // Room for a whole chunk and one more record's head and inline value, so that it never reallocates.
    const std::size_t capacity = kChunkBytes + kMaxHeadBytes + 8 + 4096;
    if (!charge_.resize(capacity)) return no_memory(capacity);
    try {
      buffer_.reserve(capacity);
      runs_.reserve(kMaxPieces + 1);
      pieces_.reserve(kMaxPieces + 1);
    } catch (const std::exception&) {
      return no_memory(capacity);
    }
    return base::Status::ok();
  }

  // Every object of `capture`, then the capture is cleared (its references dropped). A shard's entries come
  // in the order of its table, that is sorted by their hash; a store under the same hash key that inserts
  // them so piles them up at the front of its growing table (the quadratic trap of copying one hash table
  // into another in iteration order: 472,000 ids, 77% refused for probe length). They are written in
  // bit-reversed order, which spreads every prefix over the whole range.
  base::Status write(SnapshotCapture& capture) noexcept {
    base::Status status;
    const std::size_t count = capture.entries_.size();
    const int bits = count <= 1 ? 0 : std::bit_width(count - 1);
    for (std::size_t k = 0; k < (std::size_t{1} << bits) && status; ++k) {
      const std::size_t index = reversed(k, bits);
      if (index >= count) continue;
      const SnapshotCapture::Entry& entry = capture.entries_[index];
      const std::string_view id(capture.bytes_.data() + entry.at, entry.id_size);
      const std::string_view type(id.data() + id.size(), entry.type_size);
      const std::string_view value =
          entry.block ? entry.block.view() : std::string_view(type.data() + type.size(), entry.value_size);
      status = add(put_record(file_.next_sequence() + records_, id, value, entry.etag, entry.modified, type),
                   entry.block ? &entry.block : nullptr);
    }
    if (status) status = flush();
    capture.clear();
    return status;
  }

 private:
  struct Run {
    std::size_t begin = 0, end = 0;            // of buffer_
    const base::SharedBytes* value = nullptr;  // or a large value after the run
  };

  static std::size_t reversed(std::size_t k, int bits) noexcept {
    std::size_t r = 0;
    for (int b = 0; b < bits; ++b, k >>= 1) r = r << 1 | (k & 1);
    return r;
  }

  base::Status no_memory(std::size_t bytes) const {
    return base::Status::error("snapshot: no memory for a write buffer of " + std::to_string(bytes) + " bytes", ENOMEM);
  }

  base::Status add(const Record& record, const base::SharedBytes* large) noexcept {
    const std::size_t in_buffer = large != nullptr ? head_size(record) : static_cast<std::size_t>(record_size(record));
    if (buffer_.size() + in_buffer > buffer_.capacity() || runs_.size() >= kMaxPieces) {
      if (base::Status flushed = flush(); !flushed) return flushed;
    }
    if (buffer_.size() + in_buffer > buffer_.capacity()) {
      return base::Status::error("snapshot: a record of " + std::to_string(in_buffer) + " bytes outside its value", EINVAL);
    }
    const std::size_t begin = buffer_.size();
    if (large == nullptr) {
      if (base::Status appended = append_record(record, file_.limits(), buffer_); !appended) return appended;
    } else {
      buffer_.resize(begin + in_buffer);
      auto encoded = encode_head(record, file_.limits(), std::span<char>(buffer_.data() + begin, in_buffer));
      if (!encoded) {
        buffer_.resize(begin);
        return encoded.status();
      }
    }
    if (runs_.empty() || runs_.back().value != nullptr) runs_.push_back(Run{begin, begin, nullptr});
    runs_.back().end = buffer_.size();
    runs_.back().value = large;
    bytes_ += record_size(record);
    ++records_;
    return base::Status::ok();
  }

  base::Status flush() noexcept {
    if (records_ == 0) return base::Status::ok();
    pieces_.clear();
    for (const Run& run : runs_) {
      if (run.end > run.begin) pieces_.emplace_back(buffer_.data() + run.begin, run.end - run.begin);
      if (run.value != nullptr && run.value->size() != 0) pieces_.push_back(run.value->view());
    }
    base::Status status = file_.append(pieces_, bytes_, records_);
    unsynced_ += bytes_;
    buffer_.clear();
    runs_.clear();
    bytes_ = 0;
    records_ = 0;
    if (status && sync_every_ != 0 && unsynced_ >= sync_every_) {
      status = file_.sync();
      unsynced_ = 0;
    }
    return status;
  }

  SnapshotFileWriter& file_;
  base::MemoryReservation charge_;
  const std::uint64_t sync_every_;
  std::string buffer_;
  std::vector<Run> runs_;
  std::vector<std::string_view> pieces_;
  std::uint64_t bytes_ = 0;    // of the chunk, values included
  std::uint64_t records_ = 0;  // in the chunk
  std::uint64_t unsynced_ = 0;
};

namespace {

base::Result<SnapshotReport> take(FileSystem& fs, LogWriter& log, SnapshotSource& source, base::MemoryAccount& budget,
                                  const SnapshotOptions& options) {
  const Clock::time_point start = Clock::now();
  SnapshotReport report;
  const std::uint64_t failed_before = log.stats().suffix_records;
  base::Result<Rotation> first = log.rotate();
  if (!first) return first.status();
  report.log_bytes_at_rotation = log.stats().bytes_written;
  report.segment = first->segment;
  report.sequence = first->first_sequence;
  report.file = snapshot_path(options.directory, report.segment);

  auto created = SnapshotFileWriter::create(fs, snapshot_temp_path(options.directory, report.segment), report.file,
                                            SnapshotHeader{report.segment, report.sequence}, options.limits);
  if (!created) return created.status();
  SnapshotFileWriter& file = **created;
  const auto fail = [&](base::Status status) -> base::Result<SnapshotReport> {
    file.abandon();
    return status;
  };
  SnapshotCapture capture(budget);
  SnapshotEncoder encoder(file, budget, options.sync_every_bytes);
  if (base::Status started = encoder.start(); !started) return fail(started);
  for (std::size_t part = 0; part < source.parts(); ++part) {
    if (options.cancel != nullptr && options.cancel->load(std::memory_order_relaxed)) {
      return fail(base::Status::error("snapshot: cancelled", ECANCELED));
    }
    const Clock::time_point captured = Clock::now();
    const bool whole = source.capture(part, capture);
    report.longest_capture = std::max(report.longest_capture, Clock::now() - captured);
    if (!whole) {
      return fail(base::Status::error("snapshot: part " + std::to_string(part) + " of " +
                                          std::to_string(source.parts()) + " (" + std::to_string(capture.objects()) +
                                          " objects so far) does not fit in the memory budget of " +
                                          std::to_string(budget.limit()) + " bytes",
                                      ENOMEM));
    }
    if (base::Status written = encoder.write(capture); !written) return fail(written);
  }

  // Whatever the capture saw was submitted before this; now it is synced, or a suffix failed.
  base::Result<Rotation> second = log.rotate();
  if (!second) return fail(second.status());
  if (log.stats().suffix_records != failed_before) {
    file.abandon();
    report.outcome = SnapshotOutcome::kDiscarded;
    report.elapsed = Clock::now() - start;
    return report;
  }
  report.objects = file.next_sequence() - 1;
  if (base::Status finished = file.finish(); !finished) return fail(finished);
  report.bytes = file.size();
  if (base::Status synced = fs.sync_directory(options.directory); !synced) return synced;

  Removed removed;
  report.cleanup = remove_covered(fs, options.directory, report.segment, removed);
  report.segments_removed = removed.segments;
  report.snapshots_removed = removed.snapshots;
  report.elapsed = Clock::now() - start;
  return report;
}

}  // namespace

base::Result<SnapshotReport> write_snapshot(FileSystem& fs, LogWriter& log, SnapshotSource& source,
                                            base::MemoryAccount& budget, const SnapshotOptions& options) noexcept {
  try {
    return take(fs, log, source, budget, options);
  } catch (const std::exception&) {
    return base::Status::error("snapshot: out of memory", ENOMEM);
  }
}

base::Status remove_covered(FileSystem& fs, const std::string& directory, std::uint64_t segment,
                            Removed& removed) noexcept {
  auto listing = list_data_directory(fs, directory);
  if (!listing) return listing.status();
  base::Status status;
  bool changed = false;
  const auto remove = [&](const std::vector<std::uint64_t>& numbers, auto path_of, std::uint64_t& count) {
    for (const std::uint64_t number : numbers) {  // ascending: oldest first
      if (!status || number >= segment) return;
      status = fs.unlink(path_of(directory, number));
      if (!status) return;
      changed = true;
      ++count;
    }
  };
  try {
    remove(listing->segments, segment_path, removed.segments);
    remove(listing->snapshots, snapshot_path, removed.snapshots);
    remove(listing->temp_snapshots, snapshot_temp_path, removed.snapshots);
  } catch (const std::exception&) {
    status = base::Status::error("removing what a snapshot covers: out of memory", ENOMEM);
  }
  if (changed) {
    if (base::Status synced = fs.sync_directory(directory); status && !synced) status = synced;
  }
  return status;
}

}  // namespace durable
