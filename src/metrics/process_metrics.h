#pragma once
// ProcessCollector: the standard process_* metrics that client libraries export, read from /proc at scrape
// time: process_cpu_seconds_total, process_resident_memory_bytes, process_virtual_memory_bytes,
// process_open_fds, process_max_fds, process_start_time_seconds (the boot time it needs is read once, at
// the first scrape, so start-up does not pay for it). A value whose source cannot be read (no /proc in a
// sandbox) is left out rather than reported wrong; process_max_fds accompanies process_open_fds only.
#include <mutex>
#include <optional>
#include <string>

#include "metrics/registry.h"

namespace metrics {

class ProcessCollector final : public Collector {
 public:
  // proc_root is "/proc" except in tests.
  explicit ProcessCollector(std::string proc_root = "/proc");
  void collect(TextWriter& out) const override;

 private:
  std::string self_stat_path_;  // <proc_root>/self/stat
  std::string self_fd_path_;    // <proc_root>/self/fd
  std::string stat_path_;       // <proc_root>/stat
  // The btime line of <proc_root>/stat, read once: it moves only if the wall clock is stepped, while the
  // file is costly to produce (per-CPU and per-interrupt totals) and would dominate scrapes on big machines.
  // Scrapes may run on several loops at once, hence the once_flag.
  mutable std::once_flag boot_time_read_;
  mutable std::optional<double> boot_time_seconds_;
  long ticks_per_second_;
  long page_size_;
};

}  // namespace metrics
