#include "app/durable_metrics.h"

#include <sys/statvfs.h>

#include <string>

#include "durable/data_directory.h"
#include "durable/segment.h"
#include "metrics/exposition.h"

namespace app {
namespace {

// fdatasync takes tens of microseconds on a disk with a write cache, milliseconds on one without, and
// seconds when the device is in trouble: the bounds cover all three.
std::vector<double> sync_bounds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

void counter(metrics::TextWriter& out, std::string_view name, std::string_view help, double value) {
  out.family(name, help, metrics::MetricType::kCounter);
  out.sample(name, {}, value);
}

void gauge(metrics::TextWriter& out, std::string_view name, std::string_view help, double value) {
  out.family(name, help, metrics::MetricType::kGauge);
  out.sample(name, {}, value);
}

}  // namespace

DurableMetrics::DurableMetrics()
    : sync_seconds_(sync_bounds(), 1, 1), sync_bound_texts_(metrics::format_bucket_bounds(sync_seconds_.upper_bounds())) {}

void DurableMetrics::collect(metrics::TextWriter& out) const {
  if (log_ == nullptr) return;
  const durable::LogWriterStats stats = log_->stats();
  counter(out, "storage_api_log_records_total", "Puts and deletes appended to the durable log.",
          static_cast<double>(stats.records_written));
  counter(out, "storage_api_log_written_bytes_total", "Bytes appended to the durable log's segments.",
          static_cast<double>(stats.bytes_written));
  counter(out, "storage_api_log_commits_total", "Batches the log appended, each with one write (group commit).",
          static_cast<double>(stats.batches));

  // Batches by their number of records: bucket i of the stats counts [2^i, 2^(i+1)).
  constexpr std::string_view kPerCommit = "storage_api_log_records_per_commit";
  out.family(kPerCommit, "Records per batch appended (and, under FSYNC=always, per fdatasync).",
             metrics::MetricType::kHistogram);
  metrics::ShardedHistogram::Snapshot batches;
  std::vector<double> bounds;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i + 1 < durable::kBatchSizeBuckets; ++i) {
    cumulative += stats.batch_records[i];
    bounds.push_back(static_cast<double>((std::uint64_t{1} << (i + 1)) - 1));
    batches.cumulative.push_back(cumulative);
  }
  cumulative += stats.batch_records[durable::kBatchSizeBuckets - 1];
  batches.cumulative.push_back(cumulative);
  batches.count = cumulative;
  batches.sum = static_cast<double>(stats.records_written);
  metrics::write_histogram_series(out, kPerCommit, {}, batches, bounds);

  constexpr std::string_view kSync = "storage_api_log_sync_duration_seconds";
  out.family(kSync, "Time each fdatasync of the durable log took.", metrics::MetricType::kHistogram);
  metrics::ShardedHistogram::Snapshot syncs;
  sync_seconds_.collect(0, syncs);
  metrics::write_histogram_series(out, kSync, {}, syncs, sync_bound_texts_);

  constexpr std::string_view kErrors = "storage_api_log_errors_total";
  out.family(kErrors,
             "Log failures by kind: no_space (records refused for a full disk; the log goes on), write and "
             "sync (the log failed for good and the process ends).",
             metrics::MetricType::kCounter);
  out.sample(kErrors, {{"kind", "no_space"}}, static_cast<double>(stats.no_space_records));
  out.sample(kErrors, {{"kind", "write"}}, static_cast<double>(stats.write_errors));
  out.sample(kErrors, {{"kind", "sync"}}, static_cast<double>(stats.sync_errors));
  counter(out, "storage_api_log_queue_refusals_total", "Writes refused because the log's queue budget was spent.",
          static_cast<double>(stats.queue_refusals));
  gauge(out, "storage_api_log_failed", "1 once the durable log has failed (the process is ending), else 0.",
        stats.failed ? 1 : 0);
  gauge(out, "storage_api_log_segment", "The number of the log segment being appended to.",
        static_cast<double>(stats.segment));
  gauge(out, "storage_api_log_durable_sequence", "The highest sequence number known durable.",
        static_cast<double>(stats.durable_sequence));

  gauge(out, "storage_api_recovery_duration_seconds", "Time the start-up recovery took to replay the log.",
        recovery_.seconds);
  gauge(out, "storage_api_recovery_records", "Puts and deletes replayed at start-up.",
        static_cast<double>(recovery_.records));
  gauge(out, "storage_api_recovery_bytes", "Bytes of log read at start-up.", static_cast<double>(recovery_.bytes));
  counter(out, "storage_api_log_truncated_tails_total",
          "Torn tails (a write cut short by a crash) truncated at start-up.",
          static_cast<double>(recovery_.truncated_tails));

  if (fs_ != nullptr && !data_dir_.empty()) {
    if (const auto listing = durable::list_data_directory(*fs_, data_dir_); listing) {
      std::uint64_t bytes = 0;
      for (const std::uint64_t segment : listing->segments) {
        if (const auto size = fs_->file_size(durable::segment_path(data_dir_, segment)); size) bytes += *size;
      }
      gauge(out, "storage_api_log_segments", "Log segment files in DATA_DIR.",
            static_cast<double>(listing->segments.size()));
      gauge(out, "storage_api_log_bytes", "Bytes of the log segment files in DATA_DIR.", static_cast<double>(bytes));
    }
  }

  struct statvfs disk {};
  if (!data_dir_.empty() && statvfs(data_dir_.c_str(), &disk) == 0) {
    gauge(out, "storage_api_data_dir_free_bytes", "Bytes the service may still write on DATA_DIR's file system.",
          static_cast<double>(disk.f_bavail) * static_cast<double>(disk.f_frsize));
    gauge(out, "storage_api_data_dir_size_bytes", "Size of DATA_DIR's file system.",
          static_cast<double>(disk.f_blocks) * static_cast<double>(disk.f_frsize));
  }
}

}  // namespace app
