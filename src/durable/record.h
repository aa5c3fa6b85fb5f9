#pragma once
// The durable log's byte format: a segment file is a header followed by records, appended and never
// rewritten (after LevelDB's log and Redis' AOF). Integers are little-endian and fixed-width.
//
//   file header, 24 bytes: magic "SAPILOG\0" (8) | format version u32 | segment number u64 |
//                          masked CRC32C of the 20 bytes before it, u32
//   record:  masked CRC32C of the rest of the record, u32 | payload length u32 | payload
//   payload: sequence number u64 | operation u8, then
//     put (1):    etag u64 | modified, Unix seconds, i64 | content-type length u16 | content type |
//                 id length u16 | id | value length u64 | value
//     delete (2): id length u16 | id
//     batch (3):  durable end u64
//
// A batch record starts each batch the log writer appends with one write: its sequence number is the next
// one the writer will assign (that of the batch's first record), its durable end the offset in this file up
// to which everything was known durable (synced) when the batch was written. It carries no data; it is what
// lets scan_log() tell a batch torn by a power cut from damage to synced data (durable/log_scan.h).
//
// The CRC covers the length field, so a damaged length is caught like damaged data. A payload must be
// consumed exactly by its fields; ids are at most kMaxIdBytes, content types kMaxContentTypeBytes, payloads
// RecordLimits::max_payload_bytes. Sequence numbers start at 1: 0 is never valid, so no run of zero bytes
// decodes as a record (a zero length is refused too).
//
// Writing: encode_head() writes all of a record but its value into the caller's span, with a CRC that
// already covers the value. The record is the head followed by the value, so a large value goes to the file
// by gather I/O from where it lies and is never copied. append_record() appends a whole record to a string.
//
// Reading: decode_next() judges the record at an offset on its own: kTornTail when the bytes end before it
// does, kCorrupt when it is all there and wrong. Whether a bad record is really a torn write or corruption
// depends on what follows it; scan_log() (durable/log_scan.h) makes that call. Decoded views point into the
// bytes decoded. Nothing here throws; only append_record() allocates, and reports failure.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/status.h"

namespace durable {

inline constexpr std::string_view kLogMagic{"SAPILOG\0", 8};
inline constexpr std::uint32_t kLogFormatVersion = 1;
inline constexpr std::size_t kFileHeaderBytes = 24;

inline constexpr std::size_t kMaxIdBytes = 1024;
inline constexpr std::size_t kMaxContentTypeBytes = 256;
inline constexpr std::size_t kRecordFrameBytes = 8;         // CRC and payload length
inline constexpr std::size_t kPutFixedPayloadBytes = 37;    // a put's payload without its three strings
inline constexpr std::size_t kDeleteFixedPayloadBytes = 11;  // a delete's payload without its id: the least
inline constexpr std::size_t kBatchPayloadBytes = 17;
inline constexpr std::size_t kBatchRecordBytes = kRecordFrameBytes + kBatchPayloadBytes;
inline constexpr std::size_t kMaxHeadBytes =
    kRecordFrameBytes + kPutFixedPayloadBytes + kMaxContentTypeBytes + kMaxIdBytes;

struct RecordLimits {
  std::uint32_t max_payload_bytes = UINT32_MAX;  // the format's own limit

  // The limits under which every put of a value up to max_value_bytes fits.
  static constexpr RecordLimits for_values_up_to(std::uint64_t max_value_bytes) noexcept {
    constexpr std::uint64_t kLargestHead = kPutFixedPayloadBytes + kMaxContentTypeBytes + kMaxIdBytes;
    return RecordLimits{max_value_bytes >= UINT32_MAX - kLargestHead
                            ? UINT32_MAX
                            : static_cast<std::uint32_t>(max_value_bytes + kLargestHead)};
  }
};

enum class Operation : std::uint8_t { kPut = 1, kDelete = 2, kBatch = 3 };

struct Record {
  std::uint64_t sequence = 0;
  Operation operation = Operation::kPut;
  std::uint64_t etag = 0;                  // put only; 0 in a delete
  std::int64_t modified_unix_seconds = 0;  // put only
  std::string_view content_type;           // put only
  std::string_view id;
  std::string_view value;                  // put only
  std::uint64_t durable_end = 0;           // batch only

  friend bool operator==(const Record&, const Record&) = default;
};

constexpr Record put_record(std::uint64_t sequence, std::string_view id, std::string_view value, std::uint64_t etag,
                            std::int64_t modified_unix_seconds, std::string_view content_type) noexcept {
  return Record{sequence, Operation::kPut, etag, modified_unix_seconds, content_type, id, value};
}
constexpr Record delete_record(std::uint64_t sequence, std::string_view id) noexcept {
  return Record{sequence, Operation::kDelete, 0, 0, {}, id, {}};
}
constexpr Record batch_record(std::uint64_t sequence, std::uint64_t durable_end) noexcept {
  return Record{sequence, Operation::kBatch, 0, 0, {}, {}, {}, durable_end};
}

// Bytes encode_head() writes for `record`, and the whole record's size on disk (head and value).
std::size_t head_size(const Record& record) noexcept;
std::uint64_t record_size(const Record& record) noexcept;

// Why `record` cannot be encoded under `limits` (sequence 0, a field over its bound, a payload over the
// maximum, a delete or batch carrying fields it has not), or ok.
base::Status check_record(const Record& record, const RecordLimits& limits) noexcept;

// Writes the record's head into out[0, head_size) and returns head_size; the value follows it on disk.
base::Result<std::size_t> encode_head(const Record& record, const RecordLimits& limits, std::span<char> out) noexcept;

// Appends the whole record to `out`; an error (and `out` unchanged) when it cannot be encoded or the
// allocation fails.
base::Status append_record(const Record& record, const RecordLimits& limits, std::string& out) noexcept;

struct FileHeader {
  std::uint32_t version = kLogFormatVersion;
  std::uint64_t segment = 0;
};

enum class HeaderCheck : std::uint8_t {
  kValid,
  kBadMagic,            // the bytes there are (up to 8) are not the magic, or its start
  kCutShort,            // fewer than kFileHeaderBytes bytes, starting like the magic
  kBadChecksum,
  kUnsupportedVersion,  // intact, but of a format version this build does not read
};

std::array<char, kFileHeaderBytes> encode_file_header(std::uint64_t segment) noexcept;
// Checks the header at the start of `bytes`, in the order of the enumerators, filling `header` when valid.
HeaderCheck check_file_header(std::string_view bytes, FileHeader& header) noexcept;
// The same as a Result, with the problem described.
base::Result<FileHeader> decode_file_header(std::string_view bytes) noexcept;

enum class DecodeStatus : std::uint8_t {
  kRecord,    // `record`, ending at next_offset
  kEnd,       // offset is the end of the bytes
  kTornTail,  // the bytes end inside the record (its frame, or before the end its length announces)
  kCorrupt,   // the record is all there and wrong: implausible length, CRC mismatch, malformed payload
};

struct Decoded {
  DecodeStatus status = DecodeStatus::kEnd;
  Record record;                // kRecord
  std::size_t offset = 0;       // where the record, or the problem, starts
  std::size_t next_offset = 0;  // kRecord: just past the record
  std::string_view reason;      // kTornTail, kCorrupt: a fixed description
};

Decoded decode_next(std::string_view bytes, std::size_t offset, const RecordLimits& limits = {}) noexcept;

// For scan_log's search: whether a valid record with a sequence number above `after` starts at `offset`.
// The cheap checks (length, fields, sequence) come first; the bytes the CRC then has to read are added to
// `crc_bytes`, so the caller can bound the work.
bool valid_record_at(std::string_view bytes, std::size_t offset, const RecordLimits& limits, std::uint64_t after,
                     std::uint64_t& crc_bytes) noexcept;

}  // namespace durable
