#include "durable/log_scan.h"

#include <algorithm>

namespace durable {
namespace {

constexpr std::uint64_t kSearchCrcBytesPerByte = 8;
constexpr std::uint64_t kSearchCrcBytesBase = std::uint64_t{64} << 20;

// What follows the bad record at `bad`, searched at every later offset for valid records that may follow
// the good prefix (sequence number above `after`).
struct Search {
  bool found = false;      // such a record exists
  bool undecided = false;  // the CRC budget ran out first
  bool proof = false;      // one is a batch record saying the log was durable past `bad`
  std::size_t offset = 0;  // where the first one starts
};

// Without batch records any later record decides (corruption), so the search stops at the first; with them
// only a batch record that says `bad` was durable does, so the search goes on to the end.
Search search_after(std::string_view file, std::size_t bad, const RecordLimits& limits, std::uint64_t after,
                    bool batched) noexcept {
  Search search;
  const std::size_t from = bad + 1;
  if (from >= file.size()) return search;
  const std::uint64_t budget = kSearchCrcBytesBase + kSearchCrcBytesPerByte * (file.size() - from);
  std::uint64_t crc_bytes = 0;
  const std::size_t last = file.size() - std::min(file.size(), kRecordFrameBytes + kDeleteFixedPayloadBytes);
  for (std::size_t offset = from; offset <= last; ++offset) {
    if (valid_record_at(file, offset, limits, after, crc_bytes)) {
      if (!search.found) {
        search.found = true;
        search.offset = offset;
      }
      if (!batched) return search;
      const Decoded decoded = decode_next(file, offset, limits);
      if (decoded.record.operation == Operation::kBatch && decoded.record.durable_end > bad &&
          decoded.record.durable_end <= offset) {
        search.proof = true;
        return search;
      }
    }
    if (crc_bytes > budget) {
      search.undecided = true;
      return search;
    }
  }
  return search;
}

std::uint64_t search_floor(const ScanResult& result, std::uint64_t batch_sequence) noexcept {
  return std::max(result.last_sequence, batch_sequence == 0 ? 0 : batch_sequence - 1);
}

// Settles what the bad record (or header) at `bad` is, from what follows it.
void judge(ScanResult& result, std::string_view file, std::size_t bad, const RecordLimits& limits,
           std::uint64_t batch_sequence, std::string_view torn_reason, std::string_view corrupt_reason) noexcept {
  result.bad_offset = bad;
  result.valid_end = bad;
  const Search search = search_after(file, bad, limits, search_floor(result, batch_sequence), result.batched);
  if (search.undecided) {
    result.verdict = ScanVerdict::kCorrupt;
    result.reason = "could not tell a torn tail from corruption within the search budget";
  } else if (search.found && (!result.batched || search.proof)) {
    result.verdict = ScanVerdict::kCorrupt;
    result.resync_offset = search.offset;
    result.reason = corrupt_reason;
  } else {
    result.verdict = ScanVerdict::kTornTail;
    result.reason = torn_reason;
  }
}

void refuse(ScanResult& result, std::string_view reason) noexcept {
  result.verdict = ScanVerdict::kCorrupt;
  result.reason = reason;
}

bool all_zero(std::string_view bytes) noexcept {
  return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == '\0'; });
}

}  // namespace

ScanResult scan_log(std::string_view file, const RecordLimits& limits, RecordCallback on_record) noexcept {
  ScanResult result;
  switch (check_file_header(file, result.header)) {
    case HeaderCheck::kValid:
      result.header_valid = true;
      break;
    case HeaderCheck::kUnsupportedVersion:
      refuse(result, "log of a format version this build does not read");
      return result;
    case HeaderCheck::kBadMagic:
      if (!all_zero(file.substr(0, kLogMagic.size()))) {
        refuse(result, "not a storage_api log (bad magic)");
        return result;
      }
      [[fallthrough]];  // a header never written: zeros
    case HeaderCheck::kCutShort:
    case HeaderCheck::kBadChecksum:
      if (file.empty()) {
        result.verdict = ScanVerdict::kTornTail;
        result.reason = "empty log file";
        return result;
      }
      judge(result, file, 0, limits, 0, "log header torn", "damaged log header followed by records");
      return result;
  }
  std::size_t offset = kFileHeaderBytes;
  result.valid_end = offset;
  std::uint64_t batch_sequence = 0;  // of the last batch record: later records may not be below it
  for (;;) {
    const Decoded decoded = decode_next(file, offset, limits);
    if (decoded.status == DecodeStatus::kEnd) break;
    std::string_view problem = decoded.reason;
    if (decoded.status == DecodeStatus::kRecord) {
      const Record& record = decoded.record;
      if (record.sequence <= result.last_sequence || record.sequence < batch_sequence) {
        problem = "sequence number not above the last one";
      } else if (record.operation == Operation::kBatch && record.durable_end > offset) {
        problem = "batch record claiming durable bytes past itself";
      } else {
        on_record(record, offset, decoded.next_offset);
        if (record.operation == Operation::kBatch) {
          ++result.batches;
          result.batched = true;
          batch_sequence = record.sequence;
        } else {
          ++result.records;
          result.last_sequence = record.sequence;
        }
        offset = decoded.next_offset;
        result.valid_end = offset;
        continue;
      }
    }
    judge(result, file, offset, limits, batch_sequence, problem, problem);
    break;
  }
  result.next_sequence = result.last_sequence == UINT64_MAX ? UINT64_MAX
                                                            : std::max(result.last_sequence + 1, batch_sequence);
  return result;
}

}  // namespace durable
