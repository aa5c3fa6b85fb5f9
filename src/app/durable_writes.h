#pragma once
// DurableWrites: with DATA_DIR, a PUT or DELETE is answered only once the durable log has its record
// (FSYNC=always: synced; everysec and no: written), never before.
//
// The write is applied to the store and its record submitted to the log in one step, under the store
// shard's exclusive lock (store/journal.h), so the log holds every id's changes in the order the store
// made them. Until the log reports, the new object is visible to readers but not acknowledged (as in
// Redis); what a client was told succeeded is always in the log. The log reports on its own thread
// (durable/log_writer.h), and PendingWrite takes the answer back to the request's event loop:
//  - durable: 200 with the ETag and Last-Modified (PUT), 200 (DELETE);
//  - no space on the disk: the change is undone in the store (the log fails every record from the first
//    that did not fit, and reports them newest first, so undoing walks each id back to what the log
//    holds), and answered 507; later writes succeed once there is room. No memory for a batch fails a
//    suffix the same way, answered 503;
//  - the log failed (a failed fdatasync is never retried: its pages may be gone, after Rebello et al.,
//    ATC '20): 503, and on_log_failure runs once, which ends the process with a non-zero status;
//  - refused at submission (the queue's budget, the log failed, the disk full): nothing changes, 503 or 507.
//
// Memory: each write in flight (one per connection at most: a connection reads no further request while
// its answer is pending) holds a PendingWrite with a copy of its id and of the replaced object's small
// value, or a reference to a large one, so that the change can be undone. Those bytes are charged to
// `pending_budget` (the log's queue budget) from submission until the answer; a write that does not fit
// is answered 503.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "base/memory_account.h"
#include "base/status.h"
#include "durable/log_writer.h"
#include "http/handler.h"
#include "http/response.h"
#include "net/event_loop.h"
#include "store/bucket_store.h"

namespace app {

class PendingWrite;

// What one event loop keeps for its writes: the loop, and whether a wake-up of the log thread is already
// due at the end of its current batch of events. Records are submitted quietly (LogWriter::Wake::kLater)
// and the log thread is woken once per batch, so that the records of a batch go in one write and the
// loop is not preempted by the log thread once per record. One per loop thread (BucketRequests has it).
struct LoopWrites {
  net::EventLoop* loop = nullptr;
  bool wake_due = false;
};

class DurableWrites {
 public:
  // `on_log_failure` runs once, on the log's thread, with the log's failure.
  DurableWrites(store::BucketStore& store, durable::LogWriter& log, base::MemoryAccount& pending_budget,
                std::function<void(const base::Status&)> on_log_failure) noexcept
      : store_(store), log_(log), pending_budget_(pending_budget), on_log_failure_(std::move(on_log_failure)) {}

  // A PUT, as BucketStore::put would store it, durably: true when the answer will come through `deferrer`.
  // Otherwise `outcome` says what happened; for kJournalRefused (nothing stored, or nothing acknowledged)
  // `response` holds the answer (503 or 507).
  bool put(std::string_view id, base::ByteBuilder&& body, std::string_view content_type, std::int64_t modified,
           const store::Condition* condition, LoopWrites& loop, http::Deferrer& deferrer,
           store::PutOutcome& outcome, http::Response& response) noexcept;
  // A DELETE, likewise.
  bool erase(std::string_view id, const store::Condition* condition, LoopWrites& loop, http::Deferrer& deferrer,
             store::EraseResult& result, http::Response& response) noexcept;

  bool log_failed() const noexcept { return failed_.load(std::memory_order_relaxed); }

 private:
  friend class PendingWrite;
  void report_failure(const base::Status& status) noexcept;
  // Wakes the log thread at the end of the loop's batch of events (at once if that cannot be arranged).
  void wake_log_after_batch(LoopWrites& loop) noexcept;

  store::BucketStore& store_;
  durable::LogWriter& log_;
  base::MemoryAccount& pending_budget_;
  std::function<void(const base::Status&)> on_log_failure_;
  std::atomic<bool> failed_{false};
};

}  // namespace app
