#pragma once
// For the recovery tests: a sink that keeps copies of what it is given (and can refuse the nth record), and
// segment files built byte by byte in a temp dir.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include "durable/recovery.h"
#include "durable/segment.h"
#include "log_builder.h"
#include "log_writer_harness.h"

namespace durable::test {

class CollectingSink final : public ReplaySink {
 public:
  base::Status apply(const Record& record) noexcept override {
    ++calls;
    if (calls == fail_at) return base::Status::error("memory cap of 1 KiB exceeded", ENOMEM);
    records.push_back(OwnedRecord::from(record));
    return base::Status::ok();
  }
  std::vector<OwnedRecord> records;
  std::size_t calls = 0;
  std::size_t fail_at = 0;  // 0: never
};

class RecoveryTest : public LogWriterTest {
 protected:
  std::string path_of(std::uint64_t segment) const { return segment_path(dir(), segment); }

  void write_segment(std::uint64_t segment, std::string_view bytes) {
    auto file = real_.open_append(path_of(segment));
    ASSERT_TRUE(file) << file.status().message();
    ASSERT_TRUE((*file)->append(bytes));
    ASSERT_TRUE((*file)->close());
  }
  bool exists(std::uint64_t segment) { return real_.file_size(path_of(segment)).is_ok(); }
  std::uint64_t size_of_segment(std::uint64_t segment) {
    auto size = real_.file_size(path_of(segment));
    return size ? *size : UINT64_MAX;
  }

  base::Result<RecoveryReport> run(CollectingSink& sink, bool repair = false) {
    RecoveryOptions options;
    options.directory = dir();
    options.repair = repair;
    return durable::recover(fs_, options, sink);
  }
  // A recovery that must succeed; its records in `records`.
  RecoveryReport run_ok(std::vector<OwnedRecord>* records = nullptr, bool repair = false) {
    CollectingSink sink;
    auto report = run(sink, repair);
    EXPECT_TRUE(report) << report.status().message();
    if (records != nullptr) *records = sink.records;
    return report ? *report : RecoveryReport{};
  }
};

// Records with sequence numbers from `first`, in a batched segment: a batch record saying all before it was
// synced before every `per_batch` records, as the writer under FSYNC=always leaves them.
inline Log batched_segment(std::uint64_t segment, std::uint64_t first, std::uint64_t count,
                           std::uint64_t per_batch = 2) {
  Log log(segment);
  for (std::uint64_t i = 0; i < count; ++i) {
    const std::uint64_t sequence = first + i;
    if (i % per_batch == 0) log.batch(sequence);
    if (i % 3 == 2) {
      log.add(delete_record(sequence, "key-" + std::to_string(i - 1)));
    } else {
      log.add(put_record(sequence, "key-" + std::to_string(i), "value " + std::to_string(sequence), sequence * 7,
                         1'700'000'000 + static_cast<std::int64_t>(sequence), "text/plain"));
    }
  }
  return log;
}

inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The puts and deletes of `log`, batch records left out.
inline std::vector<OwnedRecord> data_records(const Log& log) {
  std::vector<OwnedRecord> out;
  for (const OwnedRecord& r : log.records) {
    if (r.operation != Operation::kBatch) out.push_back(r);
  }
  return out;
}

}  // namespace durable::test
