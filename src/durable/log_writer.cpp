#include "durable/log_writer.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <exception>
#include <new>
#include <utility>

#include "durable/segment.h"
#include "metrics/histogram.h"

namespace durable {
namespace {

// Errnos that mark the writer's own verdicts: distinct from anything a file call reports to the caller.
constexpr int kFailedErrno = ENOTRECOVERABLE;
constexpr int kQueueFullErrno = ENOBUFS;

bool lies_within(std::string_view part, std::string_view whole) noexcept {
  const auto begin = reinterpret_cast<std::uintptr_t>(part.data());
  const auto outer = reinterpret_cast<std::uintptr_t>(whole.data());
  return begin >= outer && part.size() <= whole.size() && begin - outer <= whole.size() - part.size();
}

void raise_to(std::atomic<std::uint64_t>& maximum, std::uint64_t value) noexcept {
  if (value > maximum.load(std::memory_order_relaxed)) maximum.store(value, std::memory_order_relaxed);
}

}  // namespace

bool is_log_failure(const base::Status& status) noexcept {
  return !status.is_ok() && status.error_number() == kFailedErrno;
}

bool is_queue_full(const base::Status& status) noexcept {
  return !status.is_ok() && status.error_number() == kQueueFullErrno;
}

base::Result<std::unique_ptr<LogWriter>> LogWriter::open(FileSystem& fs, base::MemoryAccount& queue_budget,
                                                         LogWriterOptions options) noexcept {
  if (options.next_sequence == 0 || options.segment == 0 || options.sync_interval.count() <= 0) {
    return base::Status::error("log writer: segment and sequence numbers start at 1; the interval must be positive",
                               EINVAL);
  }
  auto segment = create_segment(fs, options.directory, options.segment, options.next_sequence);
  if (!segment) return segment.status();
  std::unique_ptr<LogWriter> writer(
      new (std::nothrow) LogWriter(fs, queue_budget, std::move(options), std::move(segment->file), segment->size));
  if (!writer) return base::Status::error("log writer: out of memory", ENOMEM);
  try {
    writer->thread_ = std::thread([raw = writer.get()] { raw->run(); });
  } catch (const std::exception& e) {
    writer->joined_ = true;
    return base::Status::error(std::string("log writer: cannot start its thread: ") + e.what(), EAGAIN);
  }
  return writer;
}

LogWriter::LogWriter(FileSystem& fs, base::MemoryAccount& queue_budget, LogWriterOptions options,
                     std::unique_ptr<AppendFile> file, std::uint64_t file_size) noexcept
    : fs_(fs),
      queue_budget_(queue_budget),
      options_(std::move(options)),
      file_(std::move(file)),
      file_size_(file_size),
      durable_size_(file_size),
      next_sequence_(options_.next_sequence) {
  segment_.store(options_.segment, std::memory_order_relaxed);
}

LogWriter::~LogWriter() { (void)close(); }

base::Result<std::uint64_t> LogWriter::submit(const Record& record, base::SharedBytes value_owner,
                                              Completion& completion, Wake wake) noexcept {
  if (record.operation != Operation::kPut && record.operation != Operation::kDelete) {
    return base::Status::error("log writer: only puts and deletes are submitted", EINVAL);
  }
  Record checked = record;
  checked.sequence = 1;
  if (base::Status status = check_record(checked, options_.limits); !status) {
    return base::Status::error(status.message(), EINVAL);
  }
  if (!record.value.empty() && value_owner && !lies_within(record.value, value_owner.view())) {
    return base::Status::error("log writer: a put's value must lie in the bytes of its owner", EINVAL);
  }
  if (!value_owner && record.value.size() > kMaxCopiedValueBytes) {
    return base::Status::error("log writer: a value over " + std::to_string(kMaxCopiedValueBytes) +
                                   " bytes must come with its owner",
                               EINVAL);
  }
  const auto charge = static_cast<std::size_t>(record_size(record));
  if (!queue_budget_.try_reserve(charge)) {
    queue_refusals_.fetch_add(1, std::memory_order_relaxed);
    return base::Status::error("log writer: queue full", kQueueFullErrno);
  }
  std::unique_lock lock(mutex_);
  base::Status status = failed_    ? failure_
                        : closing_ ? base::Status::error("log writer: closed", ESHUTDOWN)
                                   : refusal_;
  if (status) {
    Record queued = record;
    queued.sequence = next_sequence_;
    status = pending_.push(queued, std::move(value_owner), completion, charge);
  }
  if (!status) {
    lock.unlock();
    queue_budget_.release(charge);
    return status;
  }
  const std::uint64_t sequence = next_sequence_++;
  // The thread waits only for an empty queue, so the first record wakes it, or the first one after quiet
  // ones that nobody woke it for yet.
  bool notify = false;
  if (wake == Wake::kLater) {
    quiet_ = quiet_ || pending_.size() == 1;
  } else {
    notify = pending_.size() == 1 || quiet_;
    quiet_ = false;
  }
  lock.unlock();
  if (notify) work_.notify_one();
  return sequence;
}

void LogWriter::wake() noexcept {
  {
    const std::lock_guard lock(mutex_);
    if (!quiet_) return;
    quiet_ = false;
  }
  work_.notify_one();
}

base::Result<Rotation> LogWriter::rotate() noexcept {
  const std::lock_guard one_at_a_time(rotate_mutex_);
  std::unique_lock lock(mutex_);
  if (failed_) return failure_;
  if (closing_) return base::Status::error("log writer: closed", ESHUTDOWN);
  rotation_ = RotationRequest{pending_.size(), next_sequence_};
  rotation_result_.reset();
  work_.notify_one();
  rotated_.wait(lock, [&] { return rotation_result_.has_value(); });
  base::Result<Rotation> result = std::move(*rotation_result_);
  rotation_result_.reset();
  return result;
}

base::Status LogWriter::close() noexcept {
  if (joined_) return close_status_;
  {
    const std::lock_guard lock(mutex_);
    closing_ = true;
  }
  work_.notify_one();
  thread_.join();
  joined_ = true;
  if (file_) {  // the thread stopped on a failure
    (void)file_->close();
    file_.reset();
  }
  const std::lock_guard lock(mutex_);
  if (failed_) close_status_ = failure_;
  return close_status_;
}

bool LogWriter::failed() const noexcept { return failed_flag_.load(std::memory_order_relaxed); }

LogWriterStats LogWriter::stats() const noexcept {
  constexpr auto relaxed = std::memory_order_relaxed;
  LogWriterStats stats;
  stats.records_written = records_written_.load(relaxed);
  stats.bytes_written = bytes_written_.load(relaxed);
  stats.batches = batches_.load(relaxed);
  stats.max_batch_records = max_batch_records_.load(relaxed);
  for (std::size_t i = 0; i < kBatchSizeBuckets; ++i) stats.batch_records[i] = batch_records_[i].load(relaxed);
  stats.syncs = syncs_.load(relaxed);
  stats.sync_nanoseconds_sum = sync_nanoseconds_sum_.load(relaxed);
  stats.sync_nanoseconds_max = sync_nanoseconds_max_.load(relaxed);
  stats.no_space_records = no_space_records_.load(relaxed);
  stats.suffix_records = suffix_records_.load(relaxed);
  stats.write_errors = write_errors_.load(relaxed);
  stats.sync_errors = sync_errors_.load(relaxed);
  stats.queue_refusals = queue_refusals_.load(relaxed);
  stats.written_sequence = written_sequence_.load(relaxed);
  stats.durable_sequence = durable_sequence_.load(relaxed);
  stats.segment = segment_.load(relaxed);
  stats.failed = failed_flag_.load(relaxed);
  return stats;
}

base::Status LogWriter::failure() const {
  const std::lock_guard lock(mutex_);
  return failure_;
}

void LogWriter::run() noexcept {
  for (;;) {
    std::optional<RotationRequest> rotation;
    bool closing = false;
    {
      std::unique_lock lock(mutex_);
      const auto has_work = [&] { return !pending_.empty() || rotation_ || closing_; };
      if (options_.policy == FsyncPolicy::kEverySecond && file_size_ > durable_size_) {
        work_.wait_until(lock, sync_due_, has_work);
      } else {
        work_.wait(lock, has_work);
      }
      taken_.swap(pending_);
      rotation = std::exchange(rotation_, std::nullopt);
      closing = closing_;
    }
    if (rotation) {
      write_batch(0, rotation->at);
      base::Result<Rotation> rotated = rotate_segment(rotation->first_sequence);
      write_batch(std::min(rotation->at, taken_.size()), taken_.size());  // a cut of the first half took all
      const std::lock_guard lock(mutex_);
      rotation_result_.emplace(std::move(rotated));
      rotated_.notify_all();
    } else {
      write_batch(0, taken_.size());
    }
    taken_.clear();
    if (failed()) break;
    if (options_.policy == FsyncPolicy::kEverySecond && file_size_ > durable_size_ && Clock::now() >= sync_due_) {
      if (!sync()) break;
    }
    if (closing) {
      if (file_size_ > durable_size_ && !sync()) break;
      close_status_ = file_->close();
      file_.reset();
      return;
    }
  }
  // Failed: nothing more is accepted; fail what was queued meanwhile and a rotation asked for.
  std::unique_lock lock(mutex_);
  taken_.swap(pending_);
  if (rotation_) {
    rotation_.reset();
    rotation_result_.emplace(failure_);
    rotated_.notify_all();
  }
  const base::Status status = failure_;
  lock.unlock();
  release(taken_.entries());
  complete(taken_.entries(), status);
  taken_.clear();
}

void LogWriter::write_batch(std::size_t begin, std::size_t end) noexcept {
  if (begin >= end) return;
  const std::span<Entry> entries = taken_.entries().subspan(begin, end - begin);
  if (failed()) {
    release(entries);
    complete(entries, failure());
    return;
  }
  const std::uint64_t start = file_size_;
  std::size_t written = 0;
  base::Status rest;  // why the records from `written` on failed, while the log goes on
  if (base::Status built = build_batch(begin, end); !built) {
    rest = std::move(built);
  } else {
    written = append_batch(entries.size(), rest);
  }
  release(entries);  // written or not, the bytes have left the queue
  if (failed()) {
    complete(entries, failure());
    return;
  }
  bytes_written_.fetch_add(file_size_ - start, std::memory_order_relaxed);
  if (written > 0) {
    record_batch(written);
    written_sequence_.store(entries[written - 1].sequence, std::memory_order_relaxed);
  }
  if (file_size_ > durable_size_ && start == durable_size_) sync_due_ = Clock::now() + options_.sync_interval;
  if (!rest) take_suffix(begin + written, rest);
  const bool synced = options_.policy != FsyncPolicy::kAlways || written == 0 || sync();
  complete(entries.first(written), synced ? base::Status::ok() : failure());
  if (!rest) complete_suffix(begin + written, synced ? rest : failure(), synced);
}

base::Status LogWriter::build_batch(std::size_t begin, std::size_t end) noexcept {
  try {
    records_.clear();
    records_.reserve(end - begin);
  } catch (const std::exception&) {
    return base::Status::error("log writer: out of memory for a batch", ENOMEM);
  }
  for (std::size_t i = begin; i < end; ++i) records_.push_back(taken_.record(i));
  return batch_.build(durable_size_, records_, options_.limits);
}

std::size_t LogWriter::append_batch(std::size_t records, base::Status& rest) noexcept {
  const std::uint64_t start = file_size_;
  base::Status appended = file_->append(batch_.pieces());
  if (appended) {
    file_size_ = start + batch_.size();
    return records;
  }
  if (!is_no_space(appended)) {
    fail(appended, write_errors_);
    return 0;
  }
  // Some prefix is in the file: cut it back to whole records, so that it stays scannable.
  const auto size = file_->size();
  if (!size || *size < start) {
    fail(size ? base::Status::error("log writer: the segment shrank under a write", EIO) : size.status(),
         write_errors_);
    return 0;
  }
  const LogBatch::Cut cut = batch_.whole_records_within(*size - start);
  base::Status cut_back =
      *size == start + cut.keep_bytes ? base::Status::ok() : fs_.truncate(file_->path(), start + cut.keep_bytes);
  if (!cut_back) {
    fail(cut_back, write_errors_);
    return 0;
  }
  file_size_ = start + cut.keep_bytes;
  if (cut.records < records) {
    rest = base::Status::error("log writer: no space for the record: " + appended.message(), ENOSPC);
  }
  return cut.records;
}

void LogWriter::take_suffix(std::size_t from, const base::Status& status) noexcept {
  {
    const std::lock_guard lock(mutex_);
    cut_.swap(pending_);
    refusal_ = status;
    if (rotation_) rotation_->at = 0;  // what it was to split went with the cut
  }
  const std::span<Entry> taken_rest = taken_.entries().subspan(from);
  release(taken_rest);
  release(cut_.entries());
  // Counted before any of them completes (and is undone), so that a snapshot reading the count after a
  // rotation sees every failure whose undo may have raced with its capture.
  suffix_records_.fetch_add(taken_rest.size() + cut_.size(), std::memory_order_relaxed);
  if (is_no_space(status)) {
    no_space_records_.fetch_add(taken_rest.size() + cut_.size(), std::memory_order_relaxed);
  }
}

void LogWriter::complete_suffix(std::size_t from, const base::Status& status, bool newest_first) noexcept {
  const std::span<Entry> later = taken_.entries().subspan(from);  // cut_ holds the ones submitted after
  complete(newest_first ? cut_.entries() : later, status, newest_first);
  complete(newest_first ? later : cut_.entries(), status, newest_first);
  cut_.clear();
  taken_.truncate(from);
  const std::lock_guard lock(mutex_);
  refusal_ = base::Status::ok();
}

bool LogWriter::sync() noexcept {
  const auto started = Clock::now();
  const base::Status status = file_->sync_data();
  const auto nanoseconds =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - started).count());
  syncs_.fetch_add(1, std::memory_order_relaxed);
  sync_nanoseconds_sum_.fetch_add(nanoseconds, std::memory_order_relaxed);
  raise_to(sync_nanoseconds_max_, nanoseconds);
  if (options_.sync_seconds != nullptr) options_.sync_seconds->observe(0, 0, static_cast<double>(nanoseconds) * 1e-9);
  if (!status) {
    fail(status, sync_errors_);
    return false;
  }
  durable_size_ = file_size_;
  durable_sequence_.store(written_sequence_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  return true;
}

base::Result<Rotation> LogWriter::rotate_segment(std::uint64_t first_sequence) noexcept {
  if (failed()) return failure();
  if (file_size_ > durable_size_ && !sync()) return failure();
  const std::uint64_t next = segment_.load(std::memory_order_relaxed) + 1;
  auto created = create_segment(fs_, options_.directory, next, first_sequence);
  if (!created) {
    if (is_no_space(created.status())) return created.status();
    fail(created.status(), write_errors_);
    return failure();
  }
  if (base::Status closed = file_->close(); !closed) {
    fail(closed, write_errors_);
    return failure();
  }
  file_ = std::move(created->file);
  file_size_ = durable_size_ = created->size;
  segment_.store(next, std::memory_order_relaxed);
  return Rotation{next, first_sequence};
}

void LogWriter::fail(const base::Status& cause, std::atomic<std::uint64_t>& counter) noexcept {
  counter.fetch_add(1, std::memory_order_relaxed);
  const std::lock_guard lock(mutex_);
  if (failed_) return;
  failed_ = true;
  failure_ = base::Status::error("durable log failed: " + cause.message(), kFailedErrno);
  failed_flag_.store(true, std::memory_order_relaxed);
}

void LogWriter::release(std::span<Entry> entries) noexcept {
  for (Entry& entry : entries) {
    queue_budget_.release(std::exchange(entry.charged, 0));
    entry.owner = base::SharedBytes();
    entry.value = {};
  }
}

void LogWriter::complete(std::span<Entry> entries, const base::Status& status, bool newest_first) noexcept {
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const Entry& entry = entries[newest_first ? entries.size() - 1 - i : i];
    entry.completion->logged(entry.sequence, status);
  }
}

void LogWriter::record_batch(std::size_t records) noexcept {
  batches_.fetch_add(1, std::memory_order_relaxed);
  records_written_.fetch_add(records, std::memory_order_relaxed);
  raise_to(max_batch_records_, records);
  const auto bucket = std::min<std::size_t>(std::bit_width(records) - 1, kBatchSizeBuckets - 1);
  batch_records_[bucket].fetch_add(1, std::memory_order_relaxed);
}

}  // namespace durable
