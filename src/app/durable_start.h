#pragma once
// open_durable_log: with DATA_DIR, what happens at start-up before the listener accepts a connection:
// the directory is locked (a second process gets one line and exit status 2), the log is recovered into
// the store (durable/recovery.h: torn tails truncated, damage refused unless REPAIR), and a LogWriter is
// opened on a new segment. The log lines it writes: one `log_tail_truncated` warning per torn tail (file,
// offset, bytes dropped), one `log_repaired` error with what --repair dropped, and one `recovered` line
// with the snapshot loaded (its file, objects and bytes; an empty file when there was none), the records and
// bytes replayed after it, the files a crash left that were removed, the time taken, and the objects and
// bytes loaded.
#include <cstdint>
#include <memory>
#include <string>

#include "app/config.h"
#include "app/durable_metrics.h"
#include "app/log.h"
#include "base/memory_account.h"
#include "base/status.h"
#include "durable/file_ops.h"
#include "durable/log_writer.h"
#include "metrics/histogram.h"
#include "store/bucket_store.h"

namespace app {

struct DurableLog {
  durable::FileLock lock;
  std::unique_ptr<durable::LogWriter> writer;
  RecoveryFigures recovery;
};

struct DurableStartFailure {
  int exit_status = 1;  // 2 for a directory another process holds
  std::string message;  // one line
};

// `max_value_bytes` bounds the records (the largest body). On failure `failure` says why and how to exit.
std::unique_ptr<DurableLog> open_durable_log(durable::FileSystem& fs, const Config& config, store::BucketStore& store,
                                             base::MemoryAccount& queue_budget, std::uint64_t max_value_bytes,
                                             metrics::ShardedHistogram* sync_seconds, const Logger& log,
                                             DurableStartFailure& failure);

}  // namespace app
