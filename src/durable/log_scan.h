#pragma once
// scan_log: reads a whole log segment (header and records), hands over its good records in order, and
// decides where the good part ends and what the rest is — the rule recovery follows, after LevelDB's log
// reader and Redis' aof-load-truncated.
//
// Sequence numbers: every record's is above the last put's or delete's, and not below the last batch
// record's (a batch record carries the sequence number of its batch's first record, durable/record.h).
//
// A bad record (cut short, a CRC mismatch, a malformed payload, a sequence number out of order, a batch
// record claiming durable bytes past itself) is
//  - a torn tail when nothing after it shows that the log had been synced past it: the write in progress
//    when the process or the machine stopped, which the writer never acknowledged (under FSYNC=always it
//    acknowledges after fdatasync). Recovery truncates the file at valid_end and goes on. Zero-filled tails
//    are torn tails: file systems that extend a file's size before its data reaches the disk, and
//    preallocation, leave zeros, and zeros never form a record.
//  - corruption when something after it does (every later offset is tried): truncating would drop records
//    that were durable, and may have been acknowledged, so recovery must refuse, saying where (bad_offset)
//    and where good records resume (resync_offset: the first valid record after it).
// What shows it depends on whether the good prefix has a batch record (`batched`; the log writer starts
// every segment with one, synced with the header):
//  - batched: a valid batch record after the bad one whose durable end lies past it. A batch is written
//    with one write and, under FSYNC=always, synced before the next is written, whose batch record then
//    says so; pages of an unsynced batch (of several, under everysec) may reach the disk in any order, so
//    a hole (zeros) followed by valid records of the same unsynced writes is a torn tail, not corruption.
//  - not batched (a log of records alone): any valid record with a higher sequence number after it.
// The header follows the same rule — torn if nothing valid follows (the crash came between creating the
// file and syncing its header) — except that an intact header of another format version, or a file that
// does not start with the magic or with zeros, is always corruption: a file we do not understand is never
// truncated.
//
// What the rule cannot tell, erring each time towards refusing rather than dropping records, except the
// first:
//  - damage inside the last batch that was synced (say the disk flipped a bit in it later) reads as a torn
//    tail, as does damage to a synced batch whose successor's batch record is lost too: nothing after it
//    was written once the damaged bytes were known durable. Without batch records the same holds for the
//    last record only.
//  - bytes inside a value can form a valid record (a log segment stored as a value); if the record
//    carrying them is torn, the search may find them and the verdict is corruption.
//  - the search reads every later offset cheaply (length, fields, sequence) and runs the CRC only over the
//    candidates that pass; that CRC work is capped (8 bytes per byte searched, plus 64 MiB), past which the
//    verdict is corruption with no resync offset, so crafted values cannot make recovery quadratic.
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "durable/record.h"

namespace durable {

enum class ScanVerdict : std::uint8_t { kClean, kTornTail, kCorrupt };

struct ScanResult {
  ScanVerdict verdict = ScanVerdict::kClean;
  bool header_valid = false;
  FileHeader header;             // when header_valid
  std::size_t valid_end = 0;     // the end of the last good record (of the header; 0 if it is bad): truncate here
  std::size_t bad_offset = 0;    // kTornTail, kCorrupt: where the first bad record (or the header) starts
  std::size_t resync_offset = 0;  // kCorrupt: where the valid record found after it starts; 0 if none was
  std::uint64_t records = 0;     // good puts and deletes
  std::uint64_t batches = 0;     // good batch records
  bool batched = false;          // batches > 0: the rule above that judged the bad record
  std::uint64_t last_sequence = 0;  // of the last good put or delete; 0 if none
  std::uint64_t next_sequence = 1;  // the least a record appended at valid_end may carry
  std::string_view reason;       // kTornTail, kCorrupt: a fixed description
};

// Called for each good record (batch records included) in order with its offset and end offset; the views
// point into the scanned bytes. It must not throw.
class RecordCallback {
 public:
  RecordCallback() noexcept = default;
  template <typename F>
    requires(!std::same_as<std::remove_cvref_t<F>, RecordCallback>)
  RecordCallback(F&& f) noexcept  // NOLINT(google-explicit-constructor): reads as passing the lambda
      : context_(const_cast<void*>(static_cast<const void*>(&f))),
        call_([](void* context, const Record& record, std::size_t offset, std::size_t end) {
          (*static_cast<std::remove_reference_t<F>*>(context))(record, offset, end);
        }) {}
  void operator()(const Record& record, std::size_t offset, std::size_t end) const {
    if (call_ != nullptr) call_(context_, record, offset, end);
  }

 private:
  void* context_ = nullptr;
  void (*call_)(void*, const Record&, std::size_t, std::size_t) = nullptr;
};

ScanResult scan_log(std::string_view file, const RecordLimits& limits = {}, RecordCallback on_record = {}) noexcept;

}  // namespace durable
