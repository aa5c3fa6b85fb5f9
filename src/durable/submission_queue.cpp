#include "durable/submission_queue.h"

#include <cerrno>
#include <exception>
#include <utility>

namespace durable {

base::Status SubmissionQueue::push(const Record& record, base::SharedBytes owner, Completion& completion,
                                   std::size_t charge) noexcept {
  const bool copy = !owner && !record.value.empty();
  const std::size_t strings = strings_.size();
  try {
    strings_.append(record.content_type).append(record.id);
    if (copy) strings_.append(record.value);
    entries_.push_back(Entry{record.sequence, record.operation, record.etag, record.modified_unix_seconds, strings,
                             static_cast<std::uint16_t>(record.content_type.size()),
                             static_cast<std::uint16_t>(record.id.size()),
                             static_cast<std::uint16_t>(copy ? record.value.size() : 0),
                             copy ? std::string_view() : record.value, std::move(owner), &completion, charge});
  } catch (const std::exception&) {
    strings_.resize(strings);
    return base::Status::error("log writer: out of memory", ENOMEM);
  }
  return base::Status::ok();
}

Record SubmissionQueue::record(std::size_t i) const noexcept {
  const Entry& entry = entries_[i];
  const std::string_view all(strings_);
  const std::size_t id_at = entry.strings + entry.content_type_bytes;
  const std::size_t value_at = id_at + entry.id_bytes;
  return Record{entry.sequence,
                entry.operation,
                entry.etag,
                entry.modified_unix_seconds,
                all.substr(entry.strings, entry.content_type_bytes),
                all.substr(id_at, entry.id_bytes),
                entry.copied_value_bytes > 0 ? all.substr(value_at, entry.copied_value_bytes) : entry.value,
                0};
}

void SubmissionQueue::clear() noexcept {
  entries_.clear();
  strings_.clear();
}

void SubmissionQueue::swap(SubmissionQueue& other) noexcept {
  entries_.swap(other.entries_);
  strings_.swap(other.strings_);
}

}  // namespace durable
