#include "durable/recovery.h"

#include <algorithm>
#include <cerrno>
#include <exception>
#include <string_view>

#include "durable/data_directory.h"
#include "durable/log_scan.h"
#include "durable/segment.h"
#include "durable/snapshot.h"
#include "durable/snapshot_file.h"

namespace durable {
namespace {

using base::Result;
using base::Status;
using std::to_string;

constexpr int kDamagedErrno = EBADMSG;

std::uint64_t after(std::uint64_t n) noexcept { return n == UINT64_MAX ? UINT64_MAX : n + 1; }

// Hands a segment's good records to the sink while they continue the sequence of the segments before it.
class SegmentReplay {
 public:
  SegmentReplay(ReplaySink& sink, RecoveryReport& report) noexcept
      : sink_(sink), report_(report), floor_(report.next_sequence), next_(report.next_sequence) {}

  void operator()(const Record& record, std::size_t offset, std::size_t /*end*/) noexcept {
    if (stopped_) return;
    if (record.sequence < floor_) {
      backwards_offset_ = offset;
      backwards_sequence_ = record.sequence;
      stopped_ = true;
      return;
    }
    if (record.operation == Operation::kBatch) {
      next_ = std::max(next_, record.sequence);
      return;
    }
    status_ = sink_.apply(record);
    if (!status_) {
      stopped_ = true;
      return;
    }
    ++(record.operation == Operation::kPut ? report_.puts : report_.deletes);
    next_ = std::max(next_, after(record.sequence));
  }

  const Status& status() const noexcept { return status_; }
  std::uint64_t floor() const noexcept { return floor_; }
  std::uint64_t next_sequence() const noexcept { return next_; }
  bool backwards() const noexcept { return backwards_sequence_ != 0; }
  std::size_t backwards_offset() const noexcept { return backwards_offset_; }
  std::uint64_t backwards_sequence() const noexcept { return backwards_sequence_; }

 private:
  ReplaySink& sink_;
  RecoveryReport& report_;
  const std::uint64_t floor_;  // the least sequence number the segments before allow
  std::uint64_t next_;
  Status status_;
  bool stopped_ = false;
  std::size_t backwards_offset_ = 0;
  std::uint64_t backwards_sequence_ = 0;  // sequence numbers start at 1: 0 is none
};

// How a segment ends, as far as recovery is concerned.
enum class Ending : std::uint8_t {
  kClean,
  kTornTail,     // the last segment: truncate at valid_end
  kNeverSynced,  // the last segment, without a good record: unlink
  kDamaged,
};

struct SegmentRead {
  Ending ending = Ending::kClean;
  std::uint64_t size = 0;
  std::size_t valid_end = 0;
  // kDamaged: where, why, where records resume, and (with repair) the puts and deletes readable past it.
  std::size_t damage_offset = 0;
  std::size_t resync_offset = 0;
  std::string reason;
  std::uint64_t readable_records = 0;
};

// The puts and deletes that decode one after another from `offset`.
std::uint64_t records_from(std::string_view bytes, std::size_t offset, const RecordLimits& limits) noexcept {
  std::uint64_t records = 0;
  for (;;) {
    const Decoded decoded = decode_next(bytes, offset, limits);
    if (decoded.status != DecodeStatus::kRecord) return records;
    if (decoded.record.operation != Operation::kBatch) ++records;
    offset = decoded.next_offset;
  }
}

void damage(SegmentRead& read, std::size_t offset, std::size_t resync_offset, std::string reason) {
  read.ending = Ending::kDamaged;
  read.damage_offset = offset;
  read.resync_offset = resync_offset;
  read.reason = std::move(reason);
}

// Maps, checks and replays one segment. `previous`: the number of the segment before it, 0 for none.
Result<SegmentRead> read_segment(FileSystem& fs, const RecoveryOptions& options, const std::string& path,
                                 std::uint64_t number, std::uint64_t previous, bool last, ReplaySink& sink,
                                 RecoveryReport& report) {
  auto mapped = fs.map_file(path);
  if (!mapped) return mapped.status();
  const std::string_view bytes = mapped->bytes();
  SegmentRead read;
  read.size = bytes.size();
  ++report.segments;
  report.bytes += bytes.size();

  FileHeader header;
  const HeaderCheck check = check_file_header(bytes, header);
  if (check == HeaderCheck::kUnsupportedVersion) {  // a newer build's log, perhaps: never dropped, even by --repair
    return Status::error("log segment " + path + " is of a log format version this build does not read", ENOTSUP);
  }
  const bool header_valid = check == HeaderCheck::kValid;
  if (previous != 0 && number != after(previous)) {
    damage(read, 0, 0, "segment " + to_string(after(previous)) + ", before it, is missing");
  } else if (header_valid && header.segment != number) {
    damage(read, 0, 0, "its header says it is segment " + to_string(header.segment));
  }
  if (read.ending == Ending::kDamaged) {
    if (options.repair) read.readable_records = scan_log(bytes, options.limits).records;
    return read;
  }

  SegmentReplay replay(sink, report);
  const ScanResult scan = scan_log(bytes, options.limits, replay);
  if (!replay.status()) return replay.status();
  report.next_sequence = replay.next_sequence();
  if (replay.backwards()) {
    damage(read, replay.backwards_offset(), 0,
           "sequence number " + to_string(replay.backwards_sequence()) + " is below " +
               to_string(replay.floor()) + ", the least the segments before it allow");
    if (options.repair) read.readable_records = records_from(bytes, read.damage_offset, options.limits);
    return read;
  }
  switch (scan.verdict) {
    case ScanVerdict::kClean:
      break;
    case ScanVerdict::kTornTail:
      if (last) {
        read.ending = scan.records == 0 && scan.batches == 0 ? Ending::kNeverSynced : Ending::kTornTail;
        read.valid_end = scan.valid_end;
      } else {
        damage(read, scan.valid_end, 0, "torn record (" + std::string(scan.reason) + ") in a segment with later ones");
      }
      break;
    case ScanVerdict::kCorrupt:
      damage(read, scan.valid_end, scan.resync_offset, std::string(scan.reason));
      if (options.repair && scan.resync_offset != 0) {
        read.readable_records = records_from(bytes, scan.resync_offset, options.limits);
      }
      break;
  }
  return read;
}

Status damage_error(const std::string& path, const SegmentRead& read, std::size_t later_segments) {
  std::string message = "log segment " + path + " is damaged at offset " + to_string(read.damage_offset) + ": " +
                        read.reason;
  if (read.resync_offset != 0) message += "; good records resume at offset " + to_string(read.resync_offset);
  message += "; --repair would drop the log from there: " + to_string(read.size - read.damage_offset) +
             " bytes of this segment";
  if (later_segments > 0) {
    message += " and " + to_string(later_segments) + (later_segments == 1 ? " later segment" : " later segments");
  }
  return Status::error(std::move(message), kDamagedErrno);
}

Status truncate_and_sync(FileSystem& fs, const std::string& path, std::uint64_t size) noexcept {
  if (Status truncated = fs.truncate(path, size); !truncated) return truncated;
  auto file = fs.open_append(path);
  if (!file) return file.status();
  Status synced = (*file)->sync();  // fsync: the size is what changed
  Status closed = (*file)->close();
  return synced ? closed : synced;
}

// Drops the damage in segments[index] and every later segment: the later ones unlinked newest first and the
// directory synced before the damaged one is cut, so that a crash in between leaves the damage to be found.
// `first`: the number the first of `segments` should have (a snapshot's S), 0 when any will do.
Status repair(FileSystem& fs, const RecoveryOptions& options, const std::vector<std::uint64_t>& segments,
              std::size_t index, std::uint64_t first, const SegmentRead& read, RecoveryReport& report) {
  const std::string path = segment_path(options.directory, segments[index]);
  Repair& repair = report.repair.emplace();
  repair.file = path;
  repair.offset = read.damage_offset;
  repair.resync_offset = read.resync_offset;
  repair.reason = read.reason;
  repair.dropped_bytes = read.size - read.damage_offset;
  repair.dropped_records = read.readable_records;
  for (std::size_t i = index + 1; i < segments.size(); ++i) {  // all read before any goes
    const std::string later = segment_path(options.directory, segments[i]);
    auto mapped = fs.map_file(later);
    if (!mapped) return mapped.status();
    FileHeader header;
    if (check_file_header(mapped->bytes(), header) == HeaderCheck::kUnsupportedVersion) {
      return Status::error("log segment " + later + " is of a log format version this build does not read; " +
                           "--repair does not drop it", ENOTSUP);
    }
    repair.dropped_bytes += mapped->bytes().size();
    repair.dropped_records += scan_log(mapped->bytes(), options.limits).records;
  }
  for (std::size_t i = segments.size(); i-- > index + 1;) {
    const std::string later = segment_path(options.directory, segments[i]);
    if (Status unlinked = fs.unlink(later); !unlinked) return unlinked;
    repair.removed_segments.push_back(later);
  }
  const bool whole = read.damage_offset == 0;  // nothing good before the damage
  if (whole) {
    if (Status unlinked = fs.unlink(path); !unlinked) return unlinked;
    repair.removed_segments.push_back(path);
  }
  std::reverse(repair.removed_segments.begin(), repair.removed_segments.end());
  if (!repair.removed_segments.empty()) {
    if (Status synced = fs.sync_directory(options.directory); !synced) return synced;
  }
  if (!whole) {
    if (Status cut = truncate_and_sync(fs, path, read.damage_offset); !cut) return cut;
  }
  const std::uint64_t first_kept = first != 0 ? first : segments[0];
  report.next_segment = whole ? (index == 0 ? first_kept : after(segments[index - 1])) : after(segments[index]);
  return Status::ok();
}

// Hands a snapshot's puts to the sink.
class SnapshotReplay final : public SnapshotCallback {
 public:
  explicit SnapshotReplay(ReplaySink& sink) noexcept : sink_(sink) {}
  Status put(const Record& record) noexcept override { return sink_.apply(record); }

 private:
  ReplaySink& sink_;
};

// Loads the newest snapshot, if any: the segments below it are then not read.
Status load_newest_snapshot(FileSystem& fs, const RecoveryOptions& options, const DataDirectoryListing& listing,
                            ReplaySink& sink, RecoveryReport& report) {
  if (listing.snapshots.empty()) return Status::ok();
  const auto start = std::chrono::steady_clock::now();
  const std::uint64_t segment = listing.snapshots.back();
  const std::string path = snapshot_path(options.directory, segment);
  SnapshotReplay replay(sink);
  auto loaded = load_snapshot(fs, path, segment, replay);
  if (!loaded) return loaded.status();
  report.snapshot = SnapshotLoad{path, segment, loaded->objects, loaded->bytes, std::chrono::steady_clock::now() - start};
  report.next_segment = segment;
  report.next_sequence = std::max<std::uint64_t>(loaded->header.sequence, 1);
  return Status::ok();
}

// After a good recovery: what the snapshot covers (left by a crash before the snapshot could remove it),
// and temp files of snapshots that were being written.
Status remove_leftovers(FileSystem& fs, const RecoveryOptions& options, const DataDirectoryListing& listing,
                        RecoveryReport& report) {
  if (report.snapshot) {
    Removed removed;
    if (Status status = remove_covered(fs, options.directory, report.snapshot->segment, removed); !status) return status;
    report.covered_segments_removed = removed.segments;
    report.covered_snapshots_removed = removed.snapshots;
  }
  bool changed = false;
  for (const std::uint64_t temp : listing.temp_snapshots) {
    if (report.snapshot && temp < report.snapshot->segment) continue;  // remove_covered took it
    if (Status unlinked = fs.unlink(snapshot_temp_path(options.directory, temp)); !unlinked) return unlinked;
    ++report.temp_files_removed;
    changed = true;
  }
  return changed ? fs.sync_directory(options.directory) : Status::ok();
}

Result<RecoveryReport> replay_log(FileSystem& fs, const RecoveryOptions& options, ReplaySink& sink) {
  auto listing = list_data_directory(fs, options.directory);
  if (!listing) return listing.status();
  RecoveryReport report;
  if (Status loaded = load_newest_snapshot(fs, options, *listing, sink, report); !loaded) return loaded;
  // With snapshot S the log goes on in segment S: a segment below it is covered, a gap after it is damage.
  const std::uint64_t first = report.snapshot ? report.snapshot->segment : 0;
  std::vector<std::uint64_t> segments;
  for (const std::uint64_t number : listing->segments) {
    if (number >= first) segments.push_back(number);
  }
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const std::uint64_t number = segments[i];
    const std::string path = segment_path(options.directory, number);
    const std::uint64_t previous = i != 0 ? segments[i - 1] : (first > 1 ? first - 1 : 0);
    auto read = read_segment(fs, options, path, number, previous, i + 1 == segments.size(), sink, report);
    if (!read) return read.status();
    switch (read->ending) {
      case Ending::kClean:
        report.next_segment = after(number);
        break;
      case Ending::kTornTail:
        if (Status cut = truncate_and_sync(fs, path, read->valid_end); !cut) return cut;
        report.torn_tail = TornTail{path, read->valid_end, read->size - read->valid_end, false};
        report.next_segment = after(number);
        break;
      case Ending::kNeverSynced:
        if (Status unlinked = fs.unlink(path); !unlinked) return unlinked;
        if (Status synced = fs.sync_directory(options.directory); !synced) return synced;
        report.torn_tail = TornTail{path, 0, read->size, true};
        report.next_segment = number;  // never held a record: the writer makes it anew
        break;
      case Ending::kDamaged:
        if (!options.repair) return damage_error(path, *read, segments.size() - i - 1);
        if (Status repaired = repair(fs, options, segments, i, first, *read, report); !repaired) return repaired;
        if (Status removed = remove_leftovers(fs, options, *listing, report); !removed) return removed;
        return report;
    }
  }
  if (Status removed = remove_leftovers(fs, options, *listing, report); !removed) return removed;
  return report;
}

}  // namespace

Result<RecoveryReport> recover(FileSystem& fs, const RecoveryOptions& options, ReplaySink& sink) noexcept {
  const auto start = std::chrono::steady_clock::now();
  try {
    auto report = replay_log(fs, options, sink);
    if (report) report->elapsed = std::chrono::steady_clock::now() - start;
    return report;
  } catch (const std::exception&) {
    return Status::error("recovering the log in " + options.directory + ": out of memory", ENOMEM);
  }
}

bool is_log_damaged(const base::Status& status) noexcept {
  return !status.is_ok() && status.error_number() == kDamagedErrno;
}

}  // namespace durable
