#pragma once
// recover(): start-up replay of the durable log in the data directory, which the caller has locked
// (durable/data_directory.h), handing every good put and delete to a ReplaySink in sequence order and
// leaving the directory ready for a LogWriter at report.next_segment / report.next_sequence. All file
// access goes through FileSystem; nothing is printed: the report says what was done.
//
// Snapshots first (durable/snapshot_file.h, durable/snapshot.h): when the directory holds any, the newest,
// snapshot-S, is loaded whole — its puts handed to the sink like the log's — and only the segments from S
// on are read, the first of which must be S (a gap after it is damage, as below). A snapshot is synced
// before its rename, so one that is not valid whole is damage: recovery refuses, naming the file and the
// offset, even with repair (what it holds is in no segment any more). Older snapshots are not read.
// After a good recovery, what snapshot S covers and a crash left behind — segments below S and older
// snapshots — is unlinked oldest first, and so are the .tmp files of snapshots that were being written
// (never read), and the directory is fsynced.
//
// Segments are read in number order, each mapped (never copied) and judged by scan_log (durable/log_scan.h):
//  - clean: replayed whole.
//  - torn tail in the LAST segment: the write in progress at a crash, never acknowledged. The good prefix
//    is replayed, the file truncated at its end and fsynced. A last segment with no good record at all
//    (the crash came between creating it and syncing its header and first batch record) is unlinked instead
//    and its number reused. Either way report.torn_tail says so.
//  - anything else is damage: corruption by scan_log; a torn tail in a segment that is not the last (every
//    segment but the last was synced whole before the next was created); a header naming another segment;
//    a missing segment number between two present ones; a first record whose sequence number is below what
//    the previous segments allow (sequence numbers increase across segments as within one).
//    Without options.repair, recovery fails with one line naming the file and offset, where good records
//    resume if they do, and what --repair would drop (is_log_damaged() is true of it). With it, every later
//    segment is unlinked (newest first, then the directory fsynced, so a crash midway leaves damage that is
//    found again, never a gap that replays), the damaged segment truncated at the damage and fsynced (unlinked
//    when nothing before the damage is good), report.repair says what was dropped, and recovery ends there.
//  - a segment of a format version this build does not read is refused (ENOTSUP), even with repair.
//
// Records are applied as scan_log reads them, before the segment's verdict is known. That is sound: the good
// prefix it hands over is exactly what is kept in every outcome, and when the verdict is a refusal the
// process does not start. A sink error (the store's memory cap, say) stops replay at once and is returned.
//
// Deleting segments that a snapshot covers goes oldest first, so that even a reader that ignored the
// snapshot would find no gap.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "durable/file_ops.h"
#include "durable/record.h"

namespace durable {

// Receives each replayed put and delete (never a batch record). The record's views point into the mapped
// segment and are valid only during the call: the sink copies what it keeps.
class ReplaySink {
 public:
  virtual base::Status apply(const Record& record) noexcept = 0;

 protected:
  ~ReplaySink() = default;
};

struct RecoveryOptions {
  std::string directory;
  bool repair = false;  // drop damage and everything after it, instead of refusing
  RecordLimits limits;  // those the writer used: RecordLimits::for_values_up_to(max value)
};

struct TornTail {
  std::string file;
  std::uint64_t offset = 0;         // where the file now ends
  std::uint64_t dropped_bytes = 0;  // cut off
  bool removed = false;             // no good record: the file was unlinked
};

struct Repair {
  std::string file;                 // the damaged segment
  std::uint64_t offset = 0;         // where it was truncated (0: unlinked)
  std::uint64_t resync_offset = 0;  // where good-looking records resumed after the damage; 0 if none did
  std::string reason;
  std::uint64_t dropped_bytes = 0;  // of the damaged segment and the removed ones
  std::uint64_t dropped_records = 0;  // puts and deletes still readable in what was dropped
  std::vector<std::string> removed_segments;  // later segments unlinked (and the damaged one if unlinked)
};

struct SnapshotLoad {
  std::string file;
  std::uint64_t segment = 0;  // S: the log was read from segment S on
  std::uint64_t objects = 0;
  std::uint64_t bytes = 0;    // the file's size
  std::chrono::nanoseconds elapsed{0};
};

struct RecoveryReport {
  std::optional<SnapshotLoad> snapshot;  // the snapshot loaded, if any
  std::uint64_t segments = 0;  // segments read
  std::uint64_t puts = 0;      // replayed
  std::uint64_t deletes = 0;
  std::uint64_t bytes = 0;     // of the segments read (after the snapshot)
  std::uint64_t covered_segments_removed = 0;   // below the snapshot's S, left by a crash
  std::uint64_t covered_snapshots_removed = 0;  // older snapshots (and their temp files)
  std::uint64_t temp_files_removed = 0;         // other snapshots' .tmp files
  std::optional<TornTail> torn_tail;
  std::optional<Repair> repair;
  // For the LogWriter: above the last segment kept (or the first, if none was; the snapshot's S if it is
  // alone), and above every replayed record, not below any batch record kept (nor the snapshot's Q).
  std::uint64_t next_segment = 1;
  std::uint64_t next_sequence = 1;
  std::chrono::nanoseconds elapsed{0};  // steady clock, the whole of recover()
};

base::Result<RecoveryReport> recover(FileSystem& fs, const RecoveryOptions& options, ReplaySink& sink) noexcept;

// Whether recover() refused because the log is damaged (as opposed to an I/O error or the sink's).
bool is_log_damaged(const base::Status& status) noexcept;

}  // namespace durable
