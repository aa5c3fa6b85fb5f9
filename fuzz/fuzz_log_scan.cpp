// scan_log() and decode_next() on arbitrary bytes taken as a log segment.
//
// Input: byte 0 is flags, the rest the file. Bit 0: before scanning, fix the header's CRC and the CRC of
// every record as its length fields frame them, so that mutations reach the payload parser instead of
// stopping at a CRC mismatch. Bit 1: put a valid header in front. Bits 2-3: the scanner's payload limit
// (the format's own, 16, 64 or 1024 bytes).
//
// Invariants:
//  - valid_end <= size; clean means the whole file was read, a valid header and nothing left over;
//    otherwise bad_offset == valid_end, inside the file (an empty file is torn at 0)
//  - the records handed over are contiguous from the end of the header to valid_end, within the limits, each
//    with a sequence number above the last put's or delete's and not below the last batch record's; a batch
//    record's durable end is not past its offset; the counts, last and next sequence numbers are the result's
//  - re-encoding each record gives exactly its bytes, and decode_next() at its offset decodes it
//  - the good prefix (the file cut at valid_end) scans clean with the same records, or as an empty file
//  - checked independently with decode_next at every offset after the bad record: a record that may follow
//    the good prefix (by the sequence rule) is found first at the resync offset of a corruption; without a
//    batch record in the prefix a torn tail has none; with one, a torn tail has no batch record among them
//    whose durable end lies past the bad record and not past itself, and a corruption has one
//  - the header is valid exactly when decode_file_header() says so
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/crc32c.h"
#include "durable/log_scan.h"
#include "durable/record.h"
#include "fuzz_check.h"

namespace {

using namespace durable;

std::uint32_t load_u32(const std::string& bytes, std::size_t at) {
  std::uint32_t value = 0;
  for (std::size_t i = 4; i-- > 0;) value = (value << 8) | static_cast<unsigned char>(bytes[at + i]);
  return value;
}

void store_u32(std::string& bytes, std::size_t at, std::uint32_t value) {
  for (std::size_t i = 0; i < 4; ++i) bytes[at + i] = static_cast<char>(value >> (8 * i));
}

void fix_crcs(std::string& file) {
  if (file.size() < kFileHeaderBytes) return;
  store_u32(file, kFileHeaderBytes - 4,
            base::crc32c_mask(base::crc32c(std::string_view(file).substr(0, kFileHeaderBytes - 4))));
  for (std::size_t at = kFileHeaderBytes; at + kRecordFrameBytes <= file.size();) {
    const std::uint32_t payload = load_u32(file, at + 4);
    if (payload > file.size() - at - kRecordFrameBytes) return;
    const std::string_view covered = std::string_view(file).substr(at + 4, 4 + std::size_t{payload});
    store_u32(file, at, base::crc32c_mask(base::crc32c(covered)));
    at += kRecordFrameBytes + payload;
  }
}

struct Seen {
  Record record;
  std::size_t offset;
  std::size_t end;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t flags = data[0];
  std::string file;
  if ((flags & 2) != 0) {
    const auto header = encode_file_header(1);
    file.assign(header.data(), header.size());
  }
  file.append(reinterpret_cast<const char*>(data + 1), size - 1);
  if ((flags & 1) != 0) fix_crcs(file);
  constexpr std::uint32_t kLimits[] = {UINT32_MAX, 16, 64, 1024};
  const RecordLimits limits{kLimits[(flags >> 2) & 3]};

  std::vector<Seen> seen;
  auto collect = [&](const Record& record, std::size_t offset, std::size_t end) {
    seen.push_back({record, offset, end});
  };
  const ScanResult result = scan_log(file, limits, collect);

  FUZZ_CHECK(result.valid_end <= file.size());
  FUZZ_CHECK(result.header_valid == decode_file_header(file).is_ok());
  if (result.verdict == ScanVerdict::kClean) {
    FUZZ_CHECK(result.header_valid);
    FUZZ_CHECK(result.valid_end == file.size());
  } else {
    FUZZ_CHECK(result.bad_offset == result.valid_end);
    FUZZ_CHECK(result.valid_end < file.size() || file.empty());
    FUZZ_CHECK(!result.reason.empty());
  }
  if (!result.header_valid) {
    FUZZ_CHECK(result.verdict != ScanVerdict::kClean && result.valid_end == 0 && seen.empty());
  }

  std::size_t expected_offset = kFileHeaderBytes;
  std::uint64_t last_sequence = 0;
  std::uint64_t batch_sequence = 0;
  std::uint64_t batches = 0;
  std::string encoded;
  for (const Seen& s : seen) {
    FUZZ_CHECK(s.offset == expected_offset && s.end > s.offset && s.end <= result.valid_end);
    FUZZ_CHECK(s.record.sequence > last_sequence && s.record.sequence >= batch_sequence);
    if (s.record.operation == Operation::kBatch) FUZZ_CHECK(s.record.durable_end <= s.offset);
    FUZZ_CHECK(check_record(s.record, limits).is_ok());
    encoded.clear();
    FUZZ_CHECK(append_record(s.record, limits, encoded).is_ok());
    FUZZ_CHECK(encoded == std::string_view(file).substr(s.offset, s.end - s.offset));
    const Decoded again = decode_next(file, s.offset, limits);
    FUZZ_CHECK(again.status == DecodeStatus::kRecord && again.record == s.record && again.next_offset == s.end);
    if (s.record.operation == Operation::kBatch) {
      batch_sequence = s.record.sequence;
      ++batches;
    } else {
      last_sequence = s.record.sequence;
    }
    expected_offset = s.end;
  }
  FUZZ_CHECK(seen.size() == result.records + result.batches && batches == result.batches);
  FUZZ_CHECK(last_sequence == result.last_sequence && result.batched == (batches > 0));
  if (result.header_valid) {
    FUZZ_CHECK(result.next_sequence == (last_sequence == UINT64_MAX ? UINT64_MAX
                                                                    : std::max(last_sequence + 1, batch_sequence)));
  }
  if (result.header_valid) FUZZ_CHECK(expected_offset == result.valid_end);

  const ScanResult prefix = scan_log(std::string_view(file).substr(0, result.valid_end), limits);
  if (result.header_valid) {
    FUZZ_CHECK(prefix.verdict == ScanVerdict::kClean && prefix.records == result.records);
  } else {
    FUZZ_CHECK(prefix.verdict == ScanVerdict::kTornTail && prefix.valid_end == 0);
  }

  const bool searched = result.verdict == ScanVerdict::kTornTail ||
                        (result.verdict == ScanVerdict::kCorrupt && result.resync_offset != 0);
  if (searched) {
    std::size_t first_later = 0;
    bool proof = false;
    for (std::size_t at = result.bad_offset + 1; at < file.size() && !proof; ++at) {
      const Decoded later = decode_next(file, at, limits);
      if (later.status != DecodeStatus::kRecord || later.record.sequence <= last_sequence ||
          later.record.sequence < batch_sequence) {
        continue;
      }
      if (first_later == 0) first_later = at;
      proof = later.record.operation == Operation::kBatch && later.record.durable_end > result.bad_offset &&
              later.record.durable_end <= at;
    }
    if (result.batched) {
      FUZZ_CHECK(proof == (result.verdict == ScanVerdict::kCorrupt));
      if (result.verdict == ScanVerdict::kCorrupt) FUZZ_CHECK(first_later == result.resync_offset);
    } else {
      FUZZ_CHECK(first_later == result.resync_offset);
    }
  }
  return 0;
}
