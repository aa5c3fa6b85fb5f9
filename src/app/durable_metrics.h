#pragma once
// DurableMetrics: the durable log as Prometheus sees it, read from LogWriter::stats() at scrape time, plus
// what recovery did at start-up. Present only with DATA_DIR.
//
//   storage_api_log_records_total, storage_api_log_written_bytes_total, storage_api_log_commits_total
//   storage_api_log_records_per_commit (histogram: the group commit at work)
//   storage_api_log_sync_duration_seconds (histogram, observed by the log thread for every fdatasync)
//   storage_api_log_errors_total{kind="no_space"|"write"|"sync"}, storage_api_log_queue_refusals_total
//   storage_api_log_failed (1 once the log has failed: the process is ending)
//   storage_api_log_segment, storage_api_log_durable_sequence
//   storage_api_recovery_duration_seconds, storage_api_recovery_records, storage_api_recovery_bytes,
//   storage_api_log_truncated_tails_total (torn tails cut at start-up)
//   storage_api_data_dir_free_bytes, storage_api_data_dir_size_bytes (statvfs of DATA_DIR at scrape time:
//   what an unprivileged process may still write, and the file system's size)
//   storage_api_log_segments, storage_api_log_bytes (the segment files in DATA_DIR and their size, listed at
//   scrape time: a handful of files, since snapshots delete what they cover)
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "durable/file_ops.h"
#include "durable/log_writer.h"
#include "metrics/histogram.h"
#include "metrics/registry.h"

namespace app {

struct RecoveryFigures {
  double seconds = 0;
  std::uint64_t records = 0;  // puts and deletes replayed
  std::uint64_t bytes = 0;    // of the segments read
  std::uint64_t truncated_tails = 0;
};

class DurableMetrics final : public metrics::Collector {
 public:
  DurableMetrics();
  // The histogram the log writer observes its fdatasyncs into (LogWriterOptions::sync_seconds).
  metrics::ShardedHistogram& sync_seconds() noexcept { return sync_seconds_; }
  void attach(const durable::LogWriter* log, const RecoveryFigures& recovery, std::string data_dir,
              durable::FileSystem* fs) noexcept {
    log_ = log;
    recovery_ = recovery;
    data_dir_ = std::move(data_dir);
    fs_ = fs;
  }

  void collect(metrics::TextWriter& out) const override;

 private:
  metrics::ShardedHistogram sync_seconds_;
  std::vector<std::string> sync_bound_texts_;
  const durable::LogWriter* log_ = nullptr;
  RecoveryFigures recovery_;
  std::string data_dir_;
  durable::FileSystem* fs_ = nullptr;
};

}  // namespace app
