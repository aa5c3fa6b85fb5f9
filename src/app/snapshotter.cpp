#include "app/snapshotter.h"

#include <algorithm>
#include <cerrno>
#include <exception>
#include <utility>

#include "durable/snapshot.h"
#include "durable/snapshot_store.h"
#include "metrics/exposition.h"

namespace app {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_of(std::chrono::nanoseconds elapsed) { return std::chrono::duration<double>(elapsed).count(); }

}  // namespace

Snapshotter::Snapshotter(durable::FileSystem& fs, durable::LogWriter& log, const store::BucketStore& store,
                         base::MemoryAccount& budget, const Logger& logger, SnapshotterOptions options) noexcept
    : fs_(fs),
      log_(log),
      store_(store),
      budget_(budget),
      logger_(logger),
      options_(std::move(options)),
      carried_(options_.recovered_log_bytes),
      baseline_(log.stats().bytes_written) {}

Snapshotter::~Snapshotter() { stop(); }

base::Status Snapshotter::start() noexcept {
  try {
    thread_ = std::thread([this] { run(); });
  } catch (const std::exception& e) {
    return base::Status::error(std::string("snapshotter: cannot start its thread: ") + e.what(), EAGAIN);
  }
  return base::Status::ok();
}

void Snapshotter::wake() noexcept {
  {
    const std::lock_guard lock(mutex_);
    woken_ = true;
  }
  changed_.notify_all();
}

void Snapshotter::stop() noexcept {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cancel_.store(true, std::memory_order_relaxed);
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::uint64_t Snapshotter::log_bytes_since_snapshot() const noexcept {
  const std::uint64_t written = log_.stats().bytes_written;
  const std::lock_guard lock(mutex_);
  return carried_ + (written > baseline_ ? written - baseline_ : 0);
}

std::uint64_t Snapshotter::threshold() const noexcept {
  if (!(options_.ratio > 0)) return UINT64_MAX;
  const double relative = options_.ratio * static_cast<double>(store_.stored_bytes());
  const std::uint64_t scaled = relative >= 1.8e19 ? UINT64_MAX : static_cast<std::uint64_t>(relative);
  return std::max(options_.min_bytes, scaled);
}

SnapshotterStats Snapshotter::stats() const noexcept {
  const std::uint64_t since = log_bytes_since_snapshot();
  const std::lock_guard lock(mutex_);
  SnapshotterStats stats = stats_;
  stats.log_bytes_since = since;
  return stats;
}

void Snapshotter::run() noexcept {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      changed_.wait_for(lock, options_.interval, [&] { return stopping_ || woken_; });
      if (stopping_) return;
      woken_ = false;
      if (Clock::now() < not_before_) continue;
    }
    if (log_.failed()) continue;  // nothing to compact into: the process is ending
    const std::uint64_t limit = threshold();
    const bool due = limit != UINT64_MAX && log_bytes_since_snapshot() > limit;
    if (due) attempt();
    const std::lock_guard lock(mutex_);
    ++stats_.checks;
  }
}

void Snapshotter::attempt() noexcept {
  durable::StoreSnapshotSource source(store_);
  durable::SnapshotOptions options;
  options.directory = options_.directory;
  options.limits = options_.limits;
  options.sync_every_bytes = options_.sync_every_bytes;
  options.cancel = &cancel_;
  const base::Result<durable::SnapshotReport> report = durable::write_snapshot(fs_, log_, source, budget_, options);
  if (!report && report.status().error_number() == ECANCELED) return;  // stopping

  std::unique_lock lock(mutex_);
  if (!report || report->outcome == durable::SnapshotOutcome::kDiscarded) {
    not_before_ = Clock::now() + options_.retry_after;
    ++(report ? stats_.discarded : stats_.failed);
    lock.unlock();
    if (report) {
      logger_.info("snapshot_discarded", {{"file", report->file},
                                          {"reason", "a suffix of the log failed while the snapshot was taken"}});
    } else {
      logger_.warn("snapshot_failed", {{"error", report.status().message()}});
    }
    return;
  }
  const durable::SnapshotReport& written = *report;
  ++stats_.ok;
  carried_ = 0;
  baseline_ = written.log_bytes_at_rotation;
  stats_.last_seconds = seconds_of(written.elapsed);
  stats_.last_bytes = written.bytes;
  stats_.last_objects = written.objects;
  stats_.last_success_unix_seconds =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  lock.unlock();
  logger_.info("snapshot", {{"file", written.file},
                            {"objects", written.objects},
                            {"bytes", written.bytes},
                            {"seconds", seconds_of(written.elapsed)},
                            {"segments_deleted", written.segments_removed},
                            {"snapshots_deleted", written.snapshots_removed},
                            {"longest_lock_ms", seconds_of(written.longest_capture) * 1000}});
  if (!written.cleanup) logger_.warn("snapshot_cleanup_failed", {{"error", written.cleanup.message()}});
}

void SnapshotMetrics::collect(metrics::TextWriter& out) const {
  if (snapshotter_ == nullptr) return;
  const SnapshotterStats stats = snapshotter_->stats();
  constexpr std::string_view kTotal = "storage_api_snapshots_total";
  out.family(kTotal,
             "Snapshot attempts by result: ok (written, the covered log deleted), failed, discarded (a suffix of "
             "the log failed meanwhile).",
             metrics::MetricType::kCounter);
  out.sample(kTotal, {{"result", "ok"}}, static_cast<double>(stats.ok));
  out.sample(kTotal, {{"result", "failed"}}, static_cast<double>(stats.failed));
  out.sample(kTotal, {{"result", "discarded"}}, static_cast<double>(stats.discarded));
  const auto gauge = [&out](std::string_view name, std::string_view help, double value) {
    out.family(name, help, metrics::MetricType::kGauge);
    out.sample(name, {}, value);
  };
  gauge("storage_api_snapshot_duration_seconds", "Time the last snapshot written took.", stats.last_seconds);
  gauge("storage_api_snapshot_bytes", "Size of the last snapshot written.", static_cast<double>(stats.last_bytes));
  gauge("storage_api_snapshot_last_success_timestamp_seconds",
        "Unix time the last snapshot was written; 0 before the first.", stats.last_success_unix_seconds);
  gauge("storage_api_log_bytes_since_snapshot",
        "Log bytes written since the last snapshot (or replayed after it at start-up).",
        static_cast<double>(stats.log_bytes_since));
}

}  // namespace app
