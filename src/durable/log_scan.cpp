#include "durable/log_scan.h"

#include <algorithm>

namespace durable {
namespace {

constexpr std::uint64_t kSearchCrcBytesPerByte = 8;
constexpr std::uint64_t kSearchCrcBytesBase = std::uint64_t{64} << 20;

struct Search {
  bool found = false;
  bool undecided = false;  // the CRC budget ran out first
  std::size_t offset = 0;
};

// The first offset from `from` on where a valid record with a sequence number above `after` starts.
Search search_forward(std::string_view file, std::size_t from, const RecordLimits& limits,
                      std::uint64_t after) noexcept {
  Search search;
  if (from >= file.size()) return search;
  const std::uint64_t budget = kSearchCrcBytesBase + kSearchCrcBytesPerByte * (file.size() - from);
  std::uint64_t crc_bytes = 0;
  const std::size_t last = file.size() - std::min(file.size(), kRecordFrameBytes + kDeleteFixedPayloadBytes);
  for (std::size_t offset = from; offset <= last; ++offset) {
    if (valid_record_at(file, offset, limits, after, crc_bytes)) {
      search.found = true;
      search.offset = offset;
      return search;
    }
    if (crc_bytes > budget) {
      search.undecided = true;
      return search;
    }
  }
  return search;
}

// Settles what the bad record (or header) at `bad` is, from what follows it.
void judge(ScanResult& result, std::string_view file, std::size_t bad, const RecordLimits& limits,
           std::string_view torn_reason, std::string_view corrupt_reason) noexcept {
  result.bad_offset = bad;
  result.valid_end = bad;
  const Search search = search_forward(file, bad + 1, limits, result.last_sequence);
  if (search.found) {
    result.verdict = ScanVerdict::kCorrupt;
    result.resync_offset = search.offset;
    result.reason = corrupt_reason;
  } else if (search.undecided) {
    result.verdict = ScanVerdict::kCorrupt;
    result.reason = "could not tell a torn tail from corruption within the search budget";
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
      judge(result, file, 0, limits, "log header torn", "damaged log header followed by records");
      return result;
  }
  std::size_t offset = kFileHeaderBytes;
  result.valid_end = offset;
  for (;;) {
    const Decoded decoded = decode_next(file, offset, limits);
    if (decoded.status == DecodeStatus::kEnd) return result;
    if (decoded.status == DecodeStatus::kRecord && decoded.record.sequence > result.last_sequence) {
      on_record(decoded.record, offset, decoded.next_offset);
      ++result.records;
      result.last_sequence = decoded.record.sequence;
      offset = decoded.next_offset;
      result.valid_end = offset;
      continue;
    }
    const std::string_view reason =
        decoded.status == DecodeStatus::kRecord ? std::string_view("sequence number not above the last one")
                                                : decoded.reason;
    judge(result, file, offset, limits, reason, reason);
    return result;
  }
}

}  // namespace durable
