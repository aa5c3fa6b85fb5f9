#pragma once
// Snapshot files: the live set of the store at one point of the log, in the log's own record encoding
// (durable/record.h), so that one decoder and one CRC serve both. A snapshot replaces the segments before
// the one it names; recovery loads it, then replays the segments from that one on (durable/recovery.h).
//
//   header, 32 bytes: magic "SAPISNAP" (8) | format version u32 (1) | segment S u64 | sequence Q u64 |
//                     masked CRC32C of the 28 bytes before it, u32
//   N put records, sequence numbers 1, 2, ... N (a snapshot's own numbering, not the log's)
//   end record: a batch record (operation 3) with sequence number N + 1 and, as its durable end, its own
//               offset; it ends the file
//
// S is the first segment the snapshot does not cover: every record of segments below S is in it, and the
// log's records from segment S on are numbered from Q. A snapshot is valid only whole: it is synced before
// it is renamed to its name, so anything less (cut short, a bad CRC, a record out of order, bytes after
// the end record) is corruption, never a torn tail to truncate.
//
// Names: snapshot_file_name(S) = "snapshot-" + S in 20 decimal digits + ".snap"; it is written as that
// name + ".tmp" and renamed. A ".tmp" is never read: it is an attempt that did not finish.
//
// SnapshotFileWriter appends through FileSystem with gather writes (a large value goes from where it lies,
// never copied) and finish() writes the end record, fdatasyncs, closes and renames; the directory's fsync
// is the caller's. load_snapshot() maps the file, checks it whole and hands its puts to a callback.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"
#include "durable/file_ops.h"
#include "durable/record.h"

namespace durable {

inline constexpr std::string_view kSnapshotMagic{"SAPISNAP", 8};
inline constexpr std::uint32_t kSnapshotFormatVersion = 1;
inline constexpr std::size_t kSnapshotHeaderBytes = 32;

std::string snapshot_file_name(std::uint64_t segment);
std::string snapshot_path(const std::string& directory, std::uint64_t segment);
std::string snapshot_temp_path(const std::string& directory, std::uint64_t segment);
// The S of a name snapshot_file_name() made, or of its ".tmp" (with `temp` set); nothing for other names.
std::optional<std::uint64_t> parse_snapshot_file_name(std::string_view name, bool& temp) noexcept;

struct SnapshotHeader {
  std::uint64_t segment = 0;   // S
  std::uint64_t sequence = 0;  // Q
};

std::array<char, kSnapshotHeaderBytes> encode_snapshot_header(const SnapshotHeader& header) noexcept;

class SnapshotFileWriter {
 public:
  // Creates `temp_path` (replacing nothing: it must not exist) and appends the header. `limits` are the
  // log's, so that every record the snapshot holds could have been logged.
  static base::Result<std::unique_ptr<SnapshotFileWriter>> create(FileSystem& fs, std::string temp_path,
                                                                  std::string final_path, const SnapshotHeader& header,
                                                                  const RecordLimits& limits) noexcept;
  ~SnapshotFileWriter();  // closes the file if finish() was not reached; abandon() also removes it
  SnapshotFileWriter(const SnapshotFileWriter&) = delete;
  SnapshotFileWriter& operator=(const SnapshotFileWriter&) = delete;

  // The next record's sequence number, and the bytes appended so far.
  std::uint64_t next_sequence() const noexcept { return next_sequence_; }
  std::uint64_t size() const noexcept { return size_; }
  const RecordLimits& limits() const noexcept { return limits_; }

  // Appends `pieces` holding `records` whole put records numbered from next_sequence(), in order.
  base::Status append(std::span<const std::string_view> pieces, std::uint64_t bytes, std::uint64_t records) noexcept;
  // fdatasync of what was appended (bounding what the final sync has to write).
  base::Status sync() noexcept;
  // The end record, fdatasync, close, rename to the final name. The caller syncs the directory.
  base::Status finish() noexcept;
  // Closes and unlinks the temp file (best effort: a temp file left behind is removed at recovery).
  void abandon() noexcept;

 private:
  SnapshotFileWriter(FileSystem& fs, std::unique_ptr<AppendFile> file, std::string temp_path, std::string final_path,
                     const RecordLimits& limits) noexcept;

  FileSystem& fs_;
  std::unique_ptr<AppendFile> file_;
  const std::string temp_path_;
  const std::string final_path_;
  const RecordLimits limits_;
  std::uint64_t next_sequence_ = 1;
  std::uint64_t size_ = 0;
};

// Called for each put of a snapshot, in order; the views point into the mapped file. An error stops the load.
class SnapshotCallback {
 public:
  virtual base::Status put(const Record& record) noexcept = 0;

 protected:
  ~SnapshotCallback() = default;
};

struct LoadedSnapshot {
  SnapshotHeader header;
  std::uint64_t objects = 0;
  std::uint64_t bytes = 0;  // the file's size
};

// Loads `path`, which must name snapshot `segment`. A snapshot that is not valid whole fails with an error
// naming the file and the offset, for which is_snapshot_damaged() is true; the callback has then seen the
// good puts before the damage (the caller refuses to start, so that is harmless).
base::Result<LoadedSnapshot> load_snapshot(FileSystem& fs, const std::string& path, std::uint64_t segment,
                                           SnapshotCallback& callback) noexcept;
bool is_snapshot_damaged(const base::Status& status) noexcept;

}  // namespace durable
