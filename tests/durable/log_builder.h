#pragma once
// Builds log segments for the tests: a header and records, remembering where each record starts, and
// scans them back into owned copies.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "durable/log_scan.h"
#include "durable/record.h"

namespace durable::test {

struct OwnedRecord {
  std::uint64_t sequence = 0;
  Operation operation = Operation::kPut;
  std::uint64_t etag = 0;
  std::int64_t modified_unix_seconds = 0;
  std::string content_type;
  std::string id;
  std::string value;
  std::uint64_t durable_end = 0;

  static OwnedRecord from(const Record& r) {
    return {r.sequence, r.operation, r.etag, r.modified_unix_seconds,
            std::string(r.content_type), std::string(r.id), std::string(r.value), r.durable_end};
  }
  Record view() const {
    return Record{sequence, operation, etag, modified_unix_seconds, content_type, id, value, durable_end};
  }
  friend bool operator==(const OwnedRecord&, const OwnedRecord&) = default;
};

struct Log {
  std::string bytes;
  std::vector<OwnedRecord> records;
  std::vector<std::size_t> offsets;  // where each record starts; then the end of the last one

  explicit Log(std::uint64_t segment = 1) {
    const auto header = encode_file_header(segment);
    bytes.assign(header.data(), header.size());
    offsets.push_back(bytes.size());
  }
  Log& add(const Record& record) {
    const base::Status appended = append_record(record, RecordLimits{}, bytes);
    EXPECT_TRUE(appended) << appended.message();
    records.push_back(OwnedRecord::from(record));
    offsets.push_back(bytes.size());
    return *this;
  }
  // A batch record that says everything before it was durable, as the writer puts one before each batch
  // under FSYNC=always.
  Log& batch(std::uint64_t sequence) { return add(batch_record(sequence, bytes.size())); }
  Log& batch(std::uint64_t sequence, std::uint64_t durable_end) { return add(batch_record(sequence, durable_end)); }
};

// Six records of every shape: binary bytes, empty fields, a delete, a larger value.
inline Log six_record_log() {
  Log log(7);
  const std::string binary("\0\x01\xff\x80 \r\n", 7);
  log.add(put_record(1, "alpha", "first value", 0x1122334455667788ULL, 1'700'000'000, "text/plain"));
  log.add(put_record(2, binary, binary + binary, 0, -1, "application/octet-stream"));
  log.add(delete_record(3, "alpha"));
  log.add(put_record(4, "empty", "", 42, 0, ""));
  log.add(put_record(5, "big", std::string(300, 'v'), UINT64_MAX, INT64_MIN, "image/png"));
  log.add(delete_record(6, binary));
  return log;
}

struct Scanned {
  ScanResult result;
  std::vector<OwnedRecord> records;
  std::vector<std::size_t> offsets;
};

inline Scanned scan(std::string_view bytes, const RecordLimits& limits = {}) {
  Scanned scanned;
  auto collect = [&](const Record& record, std::size_t offset, std::size_t end) {
    if (scanned.offsets.empty() || scanned.offsets.back() != offset) scanned.offsets.push_back(offset);
    scanned.offsets.push_back(end);
    scanned.records.push_back(OwnedRecord::from(record));
  };
  scanned.result = scan_log(bytes, limits, collect);
  return scanned;
}

}  // namespace durable::test
