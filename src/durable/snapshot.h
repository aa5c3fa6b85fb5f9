#pragma once
// write_snapshot(): compaction of the durable log. It writes the live set as a snapshot file (durable/
// snapshot_file.h) and deletes the segments it covers, while the log writer goes on taking writes, and a
// crash at any step leaves a directory that recovers exactly what the log held.
//
//  1. rotate the log: segment S begins with sequence Q; every record before Q is in a segment below S.
//  2. capture the source part by part (each part under its own lock only while it is copied out: ids,
//     metadata and small values copied, large values referenced, charged to `budget`; a part that does
//     not fit fails the attempt), appending each part's records to snapshot-S.snap.tmp after its lock.
//  3. rotate again. That syncs every record submitted before it, under every FSYNC policy, so anything the
//     capture saw is durable in segments >= S — unless a suffix failed (no space, no memory) since step 1:
//     its changes may have been captured and then undone in the store, so the attempt is discarded
//     (LogWriterStats::suffix_records moved). Replaying segments >= S over the capture then gives exactly
//     the log's state: for each id the capture holds its state at some moment after Q, and the records
//     from Q on, re-applied in order, end at the last one (puts and deletes set an id's state whole).
//  4. the end record, fdatasync, rename to snapshot-S.snap, fsync the directory: from here recovery loads
//     it and replays segments >= S only. Then the segments below S and older snapshots are unlinked,
//     oldest first, and the directory fsynced; a crash before that leaves files recovery removes.
// A failure before the rename removes the temp file and changes nothing else: until then the log is touched
// only through rotate(). Not for an event loop thread: it waits for the disk. One at a time per log.
//
// Entries of a part are written in bit-reversed order of their capture (see SnapshotEncoder), and the temp
// file is fdatasynced every sync_every_bytes. Memory: a 1 MiB write buffer and the largest part's copy
// (its ids, content types and small values) are charged to `budget` for the whole attempt; large values
// are held by reference for the time of their part's write (a replaced one stays charged to the store
// until then).
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/memory_account.h"
#include "base/shared_bytes.h"
#include "base/status.h"
#include "durable/file_ops.h"
#include "durable/log_writer.h"
#include "durable/record.h"

namespace durable {

// One part's objects, from its lock to the file. Its buffers are kept for the next part, and charged to
// the budget for as long as they are held.
class SnapshotCapture {
 public:
  explicit SnapshotCapture(base::MemoryAccount& budget) noexcept : charge_(budget) {}

  // Under the source's lock: copies the id, the content type and, unless `block` holds it, the value; a
  // large value is kept as a reference to `block`, which `value` must be. False when the budget or the
  // allocator refuses: the attempt fails.
  [[nodiscard]] bool add(std::string_view id, std::uint64_t etag, std::int64_t modified, std::string_view content_type,
                         std::string_view value, const base::SharedBytes* block) noexcept;
  std::size_t objects() const noexcept { return entries_.size(); }
  std::size_t charged() const noexcept { return charge_.bytes(); }

 private:
  friend class SnapshotEncoder;
  struct Entry {
    std::uint64_t etag;
    std::int64_t modified;
    std::size_t at;  // id, then content type, then an inline value, in bytes_
    std::uint16_t id_size;
    std::uint16_t type_size;
    std::uint32_t value_size;  // inline only
    base::SharedBytes block;   // a large value
  };
  bool grow(std::size_t more_bytes) noexcept;
  void clear() noexcept;  // the references go; capacity and charge stay

  base::MemoryReservation charge_;
  std::string bytes_;
  std::vector<Entry> entries_;
};

// What a snapshot is taken of: `parts()` parts, each captured whole under its own lock.
class SnapshotSource {
 public:
  virtual std::size_t parts() const noexcept = 0;
  // Adds every object of `part` to `out`; false when out.add() refused one.
  virtual bool capture(std::size_t part, SnapshotCapture& out) noexcept = 0;

 protected:
  ~SnapshotSource() = default;
};

struct SnapshotOptions {
  std::string directory;
  RecordLimits limits;  // the log's
  // fdatasync the temp file whenever this much was appended since the last one, so the final sync (and
  // the log's syncs on the same disk meanwhile) never has gigabytes to write. 0: only at the end.
  std::uint64_t sync_every_bytes = std::uint64_t{32} << 20;
  // Checked between parts: once true, the attempt stops and fails with ECANCELED (for a quick shutdown).
  const std::atomic<bool>* cancel = nullptr;
};

enum class SnapshotOutcome : std::uint8_t {
  kWritten,
  kDiscarded,  // a suffix of the log failed meanwhile (step 3): nothing kept; try again
};

struct SnapshotReport {
  SnapshotOutcome outcome = SnapshotOutcome::kWritten;
  std::string file;
  std::uint64_t segment = 0;   // S
  std::uint64_t sequence = 0;  // Q
  std::uint64_t objects = 0;
  std::uint64_t bytes = 0;  // of the file
  // LogWriterStats::bytes_written once segment S began: the log's growth since is what the snapshot
  // does not hold.
  std::uint64_t log_bytes_at_rotation = 0;
  std::uint64_t segments_removed = 0;
  std::uint64_t snapshots_removed = 0;  // older snapshots (and leftover temp files)
  base::Status cleanup;  // a failure removing what it covers: the snapshot stands, the next one retries
  std::chrono::nanoseconds elapsed{0};
  std::chrono::nanoseconds longest_capture{0};  // the longest a part was held for its copy
};

base::Result<SnapshotReport> write_snapshot(FileSystem& fs, LogWriter& log, SnapshotSource& source,
                                            base::MemoryAccount& budget, const SnapshotOptions& options) noexcept;

// Unlinks, oldest first, the segments below `segment` and the snapshots (and temp files) below it, then
// fsyncs the directory: what snapshot `segment` covers. Used after a snapshot and by recovery.
struct Removed {
  std::uint64_t segments = 0;
  std::uint64_t snapshots = 0;
};
base::Status remove_covered(FileSystem& fs, const std::string& directory, std::uint64_t segment,
                            Removed& removed) noexcept;

}  // namespace durable
