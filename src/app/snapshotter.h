#pragma once
// Snapshotter: with DATA_DIR, the thread that keeps the log from growing forever. It checks as it starts
// (a replayed log past the threshold is compacted at once), then every `interval` (1 s) or when woken, and
// once the log written since the last snapshot passes
//     max(SNAPSHOT_MIN_BYTES, SNAPSHOT_RATIO x stored bytes)
// it writes a snapshot of the store and deletes the segments it covers (durable/snapshot.h). "Written since"
// starts at what recovery replayed after its snapshot and grows with LogWriterStats::bytes_written. A
// snapshot's copies are charged to `budget` (the log queue's): a shard that does not fit fails the attempt.
// Serving goes on throughout; each shard is locked (shared) only while it is copied.
//
// A failed or discarded attempt (a suffix of the log failed meanwhile) is retried after `retry_after`; once
// the log has failed for good no more are tried. Each attempt logs one line: `snapshot` (file, objects,
// bytes, seconds, segments_deleted, snapshots_deleted, longest_lock_ms), `snapshot_discarded` or
// `snapshot_failed` (warn, with the error), and `snapshot_cleanup_failed` (warn) when what a written
// snapshot covers could not all be removed (the next snapshot retries).
//
// stop() (and the destructor) waits for an attempt under way and joins; it must come before the LogWriter
// closes. Metrics (SnapshotMetrics, read at scrape time):
//   storage_api_snapshots_total{result="ok"|"failed"|"discarded"}
//   storage_api_snapshot_duration_seconds, storage_api_snapshot_bytes (the last snapshot written)
//   storage_api_snapshot_last_success_timestamp_seconds (0 before the first)
//   storage_api_log_bytes_since_snapshot
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

#include "app/log.h"
#include "base/memory_account.h"
#include "base/status.h"
#include "durable/file_ops.h"
#include "durable/log_writer.h"
#include "durable/record.h"
#include "metrics/registry.h"
#include "store/bucket_store.h"

namespace app {

struct SnapshotterOptions {
  std::string directory;
  durable::RecordLimits limits;  // the log's
  std::uint64_t min_bytes = std::uint64_t{64} << 20;
  double ratio = 2;  // 0: never
  std::chrono::milliseconds interval{1000};
  std::chrono::milliseconds retry_after{10000};
  std::uint64_t recovered_log_bytes = 0;  // of the segments recovery read after its snapshot
  std::uint64_t sync_every_bytes = std::uint64_t{32} << 20;
};

struct SnapshotterStats {
  std::uint64_t ok = 0;
  std::uint64_t failed = 0;
  std::uint64_t discarded = 0;
  std::uint64_t checks = 0;        // times the thread compared the log with the threshold
  double last_seconds = 0;         // the last snapshot written
  std::uint64_t last_bytes = 0;
  std::uint64_t last_objects = 0;
  double last_success_unix_seconds = 0;
  std::uint64_t log_bytes_since = 0;  // now
};

class Snapshotter {
 public:
  Snapshotter(durable::FileSystem& fs, durable::LogWriter& log, const store::BucketStore& store,
              base::MemoryAccount& budget, const Logger& logger, SnapshotterOptions options) noexcept;
  ~Snapshotter();
  Snapshotter(const Snapshotter&) = delete;
  Snapshotter& operator=(const Snapshotter&) = delete;

  base::Status start() noexcept;
  void wake() noexcept;  // check the threshold now
  void stop() noexcept;

  SnapshotterStats stats() const noexcept;
  std::uint64_t log_bytes_since_snapshot() const noexcept;
  // The log bytes since the last snapshot that start the next one, now; UINT64_MAX when off.
  std::uint64_t threshold() const noexcept;

 private:
  void run() noexcept;
  void attempt() noexcept;

  durable::FileSystem& fs_;
  durable::LogWriter& log_;
  const store::BucketStore& store_;
  base::MemoryAccount& budget_;
  const Logger& logger_;
  const SnapshotterOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool stopping_ = false;
  bool woken_ = true;  // the first check comes at once
  // Log bytes since the last snapshot = carried_ + bytes_written - baseline_.
  std::uint64_t carried_ = 0;
  std::uint64_t baseline_ = 0;
  std::chrono::steady_clock::time_point not_before_{};  // after a failure
  SnapshotterStats stats_;
  std::atomic<bool> cancel_{false};
  std::thread thread_;
};

class SnapshotMetrics final : public metrics::Collector {
 public:
  explicit SnapshotMetrics(const Snapshotter* snapshotter = nullptr) noexcept : snapshotter_(snapshotter) {}
  void attach(const Snapshotter* snapshotter) noexcept { snapshotter_ = snapshotter; }
  void collect(metrics::TextWriter& out) const override;

 private:
  const Snapshotter* snapshotter_;
};

}  // namespace app
