#pragma once
// LogWriter: the durable log's own thread, appending the records the event loops submit, with group
// commit (after PostgreSQL's WAL writer and Redis' appendfsync policies).
//
// submit() may be called from any thread and never touches the disk: it copies the record's id and content
// type (and a small value that has no owner), keeps a reference to the value's owner, charges the record's
// size to the queue budget and queues it under one mutex. It assigns the sequence number, in submission
// order; the log holds records in that order. A record that fails leaves a gap: sequence numbers increase
// strictly, not densely.
//
// The thread takes everything queued at once as a batch: a batch record (durable/record.h), then each
// record's head followed by its value, handed to ONE gather write (LogBatch; values are not copied but
// for small ones). Under FSYNC
//  - always: then ONE fdatasync; the batch's completions run after it succeeded. What is submitted while a
//    write and sync run makes the next batch: the more submitters wait on the disk, the larger the batches.
//  - everysec: completions run once the batch is written; the thread fdatasyncs when data written has been
//    waiting for sync_interval (1 s), so a power cut loses at most about that much.
//  - no: completions run once written; the thread syncs only at rotation and close.
//
// Completions: Completion::logged() runs exactly once for every accepted submission (not for one that
// submit() refused), on the log thread, never while the writer's mutex is held (on every path: written,
// no space, log failure, close), so it may take locks that callers hold around submit(). It runs in
// sequence order, with ok (durable as the policy promises) or is_log_failure(), but for a failed suffix:
//  - is_no_space(): the disk was full. The write is cut back to the last whole record, so the file stays
//    scannable, and a whole suffix of the sequence fails: the record that did not fit, the rest of its
//    batch and every record queued behind it at that moment (out of memory for a batch fails a suffix the
//    same way, with ENOMEM). The batch's records before it complete first, ascending; then the suffix,
//    newest first, so that an undo in logged() walks a chain of writes to one id back in order. From the
//    cut until the last of those calls has returned, submit() refuses with the same status; then the log
//    goes on, and later records succeed once there is room again.
//  - is_log_failure(): the log failed for good. A failed fdatasync is never retried and nothing it covered
//    is reported durable (after fsyncgate and Rebello et al., ATC '20: the kernel may have dropped the
//    pages); the same for any other write or file error. Every pending record fails so, and every later
//    submit() is refused so. The server should answer 503 and exit non-zero.
// logged() must not block but for short locks (a store shard's, to undo): an implementation posts to its
// event loop (net::EventLoop::post(), catching what it may throw) and returns; it may call submit(), never
// rotate() or close().
//
// The queue budget counts the bytes of each record (record_size) from submit() until it is written; when
// a record does not fit, submit() refuses it at once (is_queue_full()). Values are let go once written.
//
// Segments: open() creates the segment options.segment (durable/segment.h); rotate() syncs and closes the
// current one and creates the next, records submitted before it going to the old one and after it to the
// new, so every segment but the last is whole and synced. close() writes what is queued, syncs it (in
// every policy), closes the file and joins the thread; the destructor does so if close() was not called.
// Neither rotate() nor close() is for an event loop thread: they wait for the disk.
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/memory_account.h"
#include "base/shared_bytes.h"
#include "base/status.h"
#include "durable/file_ops.h"
#include "durable/log_batch.h"
#include "durable/record.h"
#include "durable/submission_queue.h"

namespace metrics {
class ShardedHistogram;
}

namespace durable {

enum class FsyncPolicy : std::uint8_t { kAlways, kEverySecond, kNo };

// The error kinds submit() and Completion::logged() report, besides is_no_space() (durable/file_ops.h).
bool is_log_failure(const base::Status& status) noexcept;  // the log failed for good
bool is_queue_full(const base::Status& status) noexcept;   // the queue budget refused the record

class Completion {
 public:
  virtual void logged(std::uint64_t sequence, const base::Status& status) noexcept = 0;

 protected:
  ~Completion() = default;
};

struct LogWriterOptions {
  std::string directory;            // must exist
  std::uint64_t segment = 1;        // the segment to create and start with
  std::uint64_t next_sequence = 1;  // the first sequence number to assign: above every one in the log
  FsyncPolicy policy = FsyncPolicy::kAlways;
  std::chrono::milliseconds sync_interval{1000};  // everysec
  RecordLimits limits;
  // Observed (in seconds, on shard 0, series 0) for every fdatasync of the log, when given.
  metrics::ShardedHistogram* sync_seconds = nullptr;
};

struct Rotation {
  std::uint64_t segment = 0;         // the new segment
  std::uint64_t first_sequence = 0;  // every record below it is in an earlier segment, every later one in this
};

inline constexpr std::size_t kBatchSizeBuckets = 16;

// Counters since open(); each is exact, the set a snapshot (read one by one without a lock).
struct LogWriterStats {
  std::uint64_t records_written = 0;  // puts and deletes appended
  std::uint64_t bytes_written = 0;    // batch records included; not the segments' headers
  std::uint64_t batches = 0;
  std::uint64_t max_batch_records = 0;
  // Batches by records: bucket i counts those of [2^i, 2^(i+1)) records, the last bucket those above.
  std::array<std::uint64_t, kBatchSizeBuckets> batch_records{};
  std::uint64_t syncs = 0;  // fdatasyncs of the log, failed ones included
  std::uint64_t sync_nanoseconds_sum = 0;
  std::uint64_t sync_nanoseconds_max = 0;
  std::uint64_t no_space_records = 0;  // failed because the disk was full
  // Failed in a suffix (no space, or no memory for a batch): records whose changes the caller undoes. A
  // snapshot that captured the store while one was pending must not be kept (durable/snapshot.h).
  std::uint64_t suffix_records = 0;
  std::uint64_t write_errors = 0;      // appends that failed the log (not for a full disk)
  std::uint64_t sync_errors = 0;       // fdatasyncs that failed the log
  std::uint64_t queue_refusals = 0;    // submissions refused by the queue budget
  std::uint64_t written_sequence = 0;  // the highest sequence number written
  std::uint64_t durable_sequence = 0;  // the highest sequence number synced
  std::uint64_t segment = 0;           // the current segment
  bool failed = false;
};

class LogWriter {
 public:
  // Creates the first segment and starts the thread.
  static base::Result<std::unique_ptr<LogWriter>> open(FileSystem& fs, base::MemoryAccount& queue_budget,
                                                       LogWriterOptions options) noexcept;
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Values up to this many bytes may come without an owner: they are copied into the queue.
  static constexpr std::size_t kMaxCopiedValueBytes = SubmissionQueue::kMaxCopiedValueBytes;

  // Queues a put or a delete (record.sequence is ignored) and returns its sequence number. A put's value
  // lies in `value_owner`'s bytes, kept until written, or `value_owner` is null and the value is copied
  // (up to kMaxCopiedValueBytes; a delete's or an empty value's owner may be null). `completion` must live
  // until its logged() has run. Refused, with no completion to come: a record check_record() refuses or
  // an ownerless value over the bound (EINVAL), is_queue_full(), is_no_space() (or ENOMEM) while a failed
  // suffix completes, is_log_failure(), after close (ESHUTDOWN), out of memory.
  // With Wake::kLater the thread is not woken for it: the caller calls wake() once it has submitted what
  // it has. An event loop submits the records of one batch of events so and wakes the thread once, after
  // the batch (as Redis writes its AOF buffer in beforeSleep): they then go in one write, and the loop is
  // not preempted by the log thread's wake-up once per record.
  enum class Wake : std::uint8_t { kNow, kLater };
  base::Result<std::uint64_t> submit(const Record& record, base::SharedBytes value_owner, Completion& completion,
                                     Wake wake = Wake::kNow) noexcept;
  // Lets the thread take what was submitted with Wake::kLater. Cheap when it has nothing to do.
  void wake() noexcept;

  // Starts the next segment, as above; waits for the thread to have done it. A full disk when creating it
  // is reported and the log goes on in the current segment; any other failure fails the log.
  base::Result<Rotation> rotate() noexcept;

  // Drains, syncs, closes, joins; the first failure, or ok. Not concurrently with itself.
  base::Status close() noexcept;

  LogWriterStats stats() const noexcept;
  bool failed() const noexcept;

 private:
  using Entry = SubmissionQueue::Entry;
  struct RotationRequest {
    std::size_t at = 0;  // entries before it go to the old segment
    std::uint64_t first_sequence = 0;
  };
  using Clock = std::chrono::steady_clock;

  LogWriter(FileSystem& fs, base::MemoryAccount& queue_budget, LogWriterOptions options,
            std::unique_ptr<AppendFile> file, std::uint64_t file_size) noexcept;
  void run() noexcept;
  // Writes taken_'s entries [begin, end) as one batch and completes them; a failed suffix, as above.
  void write_batch(std::size_t begin, std::size_t end) noexcept;
  base::Status build_batch(std::size_t begin, std::size_t end) noexcept;
  // Appends batch_; the records written whole, and in `rest` why the others failed when the log goes on.
  std::size_t append_batch(std::size_t records, base::Status& rest) noexcept;
  // The suffix from taken_ entry `from` fails: takes pending_ into cut_ and refuses submissions; then
  // completes them all and accepts again.
  void take_suffix(std::size_t from, const base::Status& status) noexcept;
  void complete_suffix(std::size_t from, const base::Status& status, bool newest_first) noexcept;
  bool sync() noexcept;
  base::Result<Rotation> rotate_segment(std::uint64_t first_sequence) noexcept;
  void fail(const base::Status& cause, std::atomic<std::uint64_t>& counter) noexcept;
  base::Status failure() const;
  void release(std::span<Entry> entries) noexcept;  // from the queue budget, with the values' owners
  void complete(std::span<Entry> entries, const base::Status& status, bool newest_first = false) noexcept;
  void record_batch(std::size_t records) noexcept;

  FileSystem& fs_;
  base::MemoryAccount& queue_budget_;
  const LogWriterOptions options_;

  // The log thread's alone (and close()'s once it is joined).
  std::unique_ptr<AppendFile> file_;
  std::uint64_t file_size_ = 0;     // of the current segment, as far as written
  std::uint64_t durable_size_ = 0;  // synced
  Clock::time_point sync_due_{};    // everysec: when what was written first after the last sync is due
  SubmissionQueue taken_;
  SubmissionQueue cut_;  // what was pending when a suffix failed
  std::vector<Record> records_;
  LogBatch batch_;
  base::Status close_status_;

  mutable std::mutex mutex_;
  std::condition_variable work_;     // the thread waits for work
  std::condition_variable rotated_;  // rotate() waits for the thread
  SubmissionQueue pending_;
  std::uint64_t next_sequence_;
  std::optional<RotationRequest> rotation_;
  std::optional<base::Result<Rotation>> rotation_result_;
  bool closing_ = false;
  bool quiet_ = false;  // records went in with Wake::kLater since the thread was last woken
  bool failed_ = false;
  base::Status failure_;  // once failed_
  base::Status refusal_;  // while a failed suffix completes
  std::mutex rotate_mutex_;  // one rotation at a time

  std::atomic<std::uint64_t> records_written_{0}, bytes_written_{0}, batches_{0}, max_batch_records_{0};
  std::array<std::atomic<std::uint64_t>, kBatchSizeBuckets> batch_records_{};
  std::atomic<std::uint64_t> syncs_{0}, sync_nanoseconds_sum_{0}, sync_nanoseconds_max_{0};
  std::atomic<std::uint64_t> no_space_records_{0}, suffix_records_{0}, write_errors_{0}, sync_errors_{0};
  std::atomic<std::uint64_t> queue_refusals_{0};
  std::atomic<std::uint64_t> written_sequence_{0}, durable_sequence_{0}, segment_{0};
  std::atomic<bool> failed_flag_{false};

  std::thread thread_;
  bool joined_ = false;
};

}  // namespace durable
