#include "app/durable_start.h"

#include <chrono>
#include <string_view>

#include "durable/data_directory.h"
#include "durable/recovery.h"

namespace app {
namespace {

// Replays the log into the store: each put stored as it was (its ETag is the hash of its bytes, so it
// comes out the same, which checks the value once more), each delete applied.
class StoreReplay final : public durable::ReplaySink {
 public:
  explicit StoreReplay(store::BucketStore& store) noexcept : store_(store) {}

  base::Status apply(const durable::Record& record) noexcept override {
    if (record.operation == durable::Operation::kDelete) {
      (void)store_.erase(record.id);
      return base::Status::ok();
    }
    const store::PutOutcome outcome =
        store_.put(record.id, record.value, record.content_type, record.modified_unix_seconds);
    if (outcome.result != store::PutResult::kCreated && outcome.result != store::PutResult::kReplaced) {
      return base::Status::error("the objects in DATA_DIR need more than MAX_STORAGE_BYTES (" +
                                     std::to_string(store_.max_bytes()) +
                                     " bytes): raise it or the memory limit to start", ENOSPC);
    }
    if (outcome.meta.etag != record.etag) {
      return base::Status::error("the log record of sequence " + std::to_string(record.sequence) +
                                     " carries a value whose hash does not match its ETag", EILSEQ);
    }
    return base::Status::ok();
  }

 private:
  store::BucketStore& store_;
};

durable::FsyncPolicy policy_of(FsyncMode mode) noexcept {
  switch (mode) {
    case FsyncMode::kEverySecond:
      return durable::FsyncPolicy::kEverySecond;
    case FsyncMode::kNo:
      return durable::FsyncPolicy::kNo;
    case FsyncMode::kAlways:
      break;
  }
  return durable::FsyncPolicy::kAlways;
}

}  // namespace

std::unique_ptr<DurableLog> open_durable_log(durable::FileSystem& fs, const Config& config, store::BucketStore& store,
                                             base::MemoryAccount& queue_budget, std::uint64_t max_value_bytes,
                                             metrics::ShardedHistogram* sync_seconds, const Logger& log,
                                             DurableStartFailure& failure) {
  const std::string& directory = *config.data_dir;
  auto opened = std::make_unique<DurableLog>();
  base::Result<durable::FileLock> lock = durable::lock_data_directory(fs, directory);
  if (!lock) {
    failure = {durable::is_locked(lock.status()) ? 2 : 1, lock.status().message()};
    return nullptr;
  }
  opened->lock = std::move(*lock);

  const durable::RecordLimits limits = durable::RecordLimits::for_values_up_to(max_value_bytes);
  StoreReplay replay(store);
  const base::Result<durable::RecoveryReport> recovered =
      durable::recover(fs, durable::RecoveryOptions{directory, config.repair, limits}, replay);
  if (!recovered) {
    failure = {1, recovered.status().message()};
    return nullptr;
  }
  const durable::RecoveryReport& report = *recovered;
  if (report.torn_tail) {
    log.warn("log_tail_truncated", {{"file", report.torn_tail->file},
                                    {"offset", report.torn_tail->offset},
                                    {"dropped_bytes", report.torn_tail->dropped_bytes},
                                    {"removed", report.torn_tail->removed}});
  }
  if (report.repair) {
    log.error("log_repaired", {{"file", report.repair->file},
                               {"offset", report.repair->offset},
                               {"reason", report.repair->reason},
                               {"dropped_bytes", report.repair->dropped_bytes},
                               {"dropped_records", report.repair->dropped_records},
                               {"removed_segments", static_cast<std::uint64_t>(report.repair->removed_segments.size())}});
  }
  const double seconds = std::chrono::duration<double>(report.elapsed).count();
  opened->recovery = {seconds, report.puts + report.deletes, report.bytes, report.torn_tail ? 1u : 0u};
  log.info("recovered", {{"data_dir", directory},
                         {"snapshot", report.snapshot ? std::string_view(report.snapshot->file) : std::string_view()},
                         {"snapshot_objects", report.snapshot ? report.snapshot->objects : 0},
                         {"snapshot_bytes", report.snapshot ? report.snapshot->bytes : 0},
                         {"leftovers_removed", report.covered_segments_removed + report.covered_snapshots_removed +
                                                   report.temp_files_removed},
                         {"segments", report.segments},
                         {"puts", report.puts},
                         {"deletes", report.deletes},
                         {"bytes_read", report.bytes},
                         {"seconds", seconds},
                         {"objects", static_cast<std::uint64_t>(store.bucket_count())},
                         {"stored_bytes", static_cast<std::uint64_t>(store.stored_bytes())}});

  durable::LogWriterOptions options;
  options.directory = directory;
  options.segment = report.next_segment;
  options.next_sequence = report.next_sequence;
  options.policy = policy_of(config.fsync);
  options.limits = limits;
  options.sync_seconds = sync_seconds;
  base::Result<std::unique_ptr<durable::LogWriter>> writer = durable::LogWriter::open(fs, queue_budget, options);
  if (!writer) {
    failure = {1, writer.status().message()};
    return nullptr;
  }
  opened->writer = std::move(*writer);
  return opened;
}

}  // namespace app
