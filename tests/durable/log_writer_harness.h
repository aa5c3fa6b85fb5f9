#pragma once
// For the log writer's tests: a completion that records what it is told, records to submit with owned
// values, and the recovery view of a log directory (every segment scanned, in order).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/shared_bytes.h"
#include "durable/log_scan.h"
#include "durable/log_writer.h"
#include "durable/segment.h"
#include "fault_injection_fs.h"
#include "log_builder.h"
#include "support/temp_dir.h"

namespace durable::test {

inline constexpr std::chrono::seconds kPatience{20};  // a deadline for what must happen, not a pause

struct Logged {
  std::uint64_t sequence = 0;
  bool ok = false;
  int error_number = 0;
  bool failure = false;  // is_log_failure()
};

class Recorder final : public Completion {
 public:
  void logged(std::uint64_t sequence, const base::Status& status) noexcept override {
    const std::lock_guard lock(mutex_);
    logged_.push_back(Logged{sequence, status.is_ok(), status.error_number(), is_log_failure(status)});
    changed_.notify_all();
  }
  bool wait_for(std::size_t n, std::chrono::milliseconds timeout = kPatience) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return logged_.size() >= n; });
  }
  std::vector<Logged> logged() const {
    const std::lock_guard lock(mutex_);
    return logged_;
  }
  std::size_t count() const {
    const std::lock_guard lock(mutex_);
    return logged_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Logged> logged_;
};

// A record to submit, owning its strings and its value (as the store's SharedBytes).
struct Submission {
  OwnedRecord record;
  base::SharedBytes value;

  static Submission put(std::string id, std::size_t value_bytes, char fill = 'v') {
    Submission s;
    s.record.operation = Operation::kPut;
    s.record.id = std::move(id);
    s.record.content_type = "application/octet-stream";
    s.record.etag = value_bytes * 31 + static_cast<unsigned char>(fill);
    s.record.modified_unix_seconds = 1'700'000'000;
    s.record.value.assign(value_bytes, fill);
    s.value = base::SharedBytes::copy_of(s.record.value);
    return s;
  }
  static Submission remove(std::string id) {
    Submission s;
    s.record.operation = Operation::kDelete;
    s.record.id = std::move(id);
    return s;
  }
  // The record as submitted: its value a view into the shared bytes.
  Record view() const {
    Record r = record.view();
    if (value) r.value = value.view();
    return r;
  }
};

inline base::Result<std::uint64_t> submit(LogWriter& writer, const Submission& s, Completion& completion) {
  return writer.submit(s.view(), s.value, completion);
}

// What recovery would see: each segment of `directory` scanned in order.
struct Recovered {
  std::vector<ScanResult> segments;
  std::vector<std::uint64_t> numbers;
  std::vector<OwnedRecord> records;  // puts and deletes, batch records left out
  bool any_corrupt() const {
    return std::any_of(segments.begin(), segments.end(),
                       [](const ScanResult& r) { return r.verdict == ScanVerdict::kCorrupt; });
  }
};

inline Recovered recover(FileSystem& fs, const std::string& directory) {
  Recovered recovered;
  auto names = fs.list_directory(directory);
  EXPECT_TRUE(names) << names.status().message();
  if (!names) return recovered;
  for (const std::string& name : *names) {
    const auto number = parse_segment_file_name(name);
    if (!number) continue;
    auto bytes = fs.read_file(segment_path(directory, *number));
    EXPECT_TRUE(bytes) << bytes.status().message();
    if (!bytes) continue;
    recovered.numbers.push_back(*number);
    recovered.segments.push_back(scan_log(*bytes, RecordLimits{}, [&](const Record& r, std::size_t, std::size_t) {
      if (r.operation != Operation::kBatch) recovered.records.push_back(OwnedRecord::from(r));
    }));
  }
  return recovered;
}

// Waits for `condition` up to the deadline, polling: for state that has no notification to wait on.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout = kPatience) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

class LogWriterTest : public ::testing::Test {
 protected:
  std::string dir() const { return dir_.path().string(); }

  std::unique_ptr<LogWriter> open(FsyncPolicy policy, base::MemoryAccount* budget = nullptr,
                                  std::chrono::milliseconds interval = std::chrono::milliseconds(1000)) {
    LogWriterOptions options;
    options.directory = dir();
    options.policy = policy;
    options.sync_interval = interval;
    auto writer = LogWriter::open(fs_, budget != nullptr ? *budget : budget_, options);
    EXPECT_TRUE(writer) << writer.status().message();
    return writer ? std::move(*writer) : nullptr;
  }

  // The power goes: the writer can change nothing more and stops as a crashed process would; then what the
  // disk kept (with `survives`, pages of unsynced data too) is recovered.
  Recovered crash(std::unique_ptr<LogWriter>& writer,
                  const FaultInjectionFileSystem::PageFilter& survives = {}) {
    fs_.cut_power();
    fs_.open_sync_gate();
    (void)writer->close();
    writer.reset();
    const base::Status dropped = fs_.drop_unsynced(survives);
    EXPECT_TRUE(dropped) << dropped.message();
    return recover(real_, dir());
  }

  test_support::TempDir dir_{"storage_api_log_writer"};
  PosixFileSystem real_;
  FaultInjectionFileSystem fs_{real_};
  base::MemoryAccount budget_{std::size_t{64} << 20};
  Recorder recorder_;
};

}  // namespace durable::test
