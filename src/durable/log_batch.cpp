#include "durable/log_batch.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>

namespace durable {
namespace {

bool inline_value(const Record& record) noexcept {
  return record.operation == Operation::kPut && record.value.size() <= LogBatch::kInlineValueBytes;
}

}  // namespace

base::Status LogBatch::build(std::uint64_t durable_end, std::span<const Record> records,
                             const RecordLimits& limits) noexcept {
  pieces_.clear();
  ends_.clear();
  if (records.empty()) return base::Status::error("log batch: no records", EINVAL);
  std::size_t buffered = kBatchRecordBytes;
  std::size_t referenced = 0;
  for (const Record& record : records) {
    buffered += head_size(record) + (inline_value(record) ? record.value.size() : 0);
    if (!inline_value(record) && !record.value.empty()) ++referenced;
  }
  try {
    buffer_.resize(buffered);
    pieces_.reserve(2 * referenced + 1);
    ends_.reserve(records.size() + 1);
  } catch (const std::exception&) {
    return base::Status::error("log batch: out of memory for " + std::to_string(records.size()) + " records", ENOMEM);
  }

  char* const start = buffer_.data();
  std::size_t cursor = 0;     // in buffer_
  std::size_t run_start = 0;  // of the buffered bytes not yet a piece
  std::uint64_t batch_bytes = 0;
  auto encode = [&](const Record& record) -> base::Status {
    auto head = encode_head(record, limits, std::span<char>(start + cursor, buffer_.size() - cursor));
    if (!head) return head.status();
    cursor += *head;
    if (inline_value(record)) {
      if (!record.value.empty()) std::memcpy(start + cursor, record.value.data(), record.value.size());
      cursor += record.value.size();
    } else if (!record.value.empty()) {
      pieces_.emplace_back(start + run_start, cursor - run_start);
      pieces_.push_back(record.value);
      run_start = cursor;
    }
    batch_bytes += record_size(record);
    ends_.push_back(batch_bytes);
    return base::Status::ok();
  };
  base::Status status = encode(batch_record(records.front().sequence, durable_end));
  for (std::size_t i = 0; status && i < records.size(); ++i) status = encode(records[i]);
  if (!status) {
    pieces_.clear();
    ends_.clear();
    return status;
  }
  if (cursor > run_start) pieces_.emplace_back(start + run_start, cursor - run_start);
  return base::Status::ok();
}

LogBatch::Cut LogBatch::whole_records_within(std::uint64_t bytes) const noexcept {
  const auto whole = static_cast<std::size_t>(std::upper_bound(ends_.begin(), ends_.end(), bytes) - ends_.begin());
  if (whole == 0) return Cut{0, 0};
  return Cut{whole - 1, ends_[whole - 1]};
}

}  // namespace durable
