#pragma once
// SubmissionQueue: the log writer's queue of submitted records (durable/log_writer.h). Each entry keeps a
// record's fixed fields, its completion and its budget charge; the record's content type and id, and a
// value of up to kMaxCopiedValueBytes that has no owner, are copied into one string, the owner of any other
// value is kept. Entries refer to the copied bytes by offset, not by pointer, because the string
// reallocates as more records are queued; record() resolves them into views valid until the next push()
// or clear(). Not thread-safe (the writer guards it); push() reports allocation failure instead of throwing.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/shared_bytes.h"
#include "base/status.h"
#include "durable/record.h"

namespace durable {

class Completion;

class SubmissionQueue {
 public:
  // The store keeps values of up to 2028 bytes inline in slab slots that move: those are copied.
  static constexpr std::size_t kMaxCopiedValueBytes = 4096;

  struct Entry {
    std::uint64_t sequence = 0;
    Operation operation = Operation::kPut;
    std::uint64_t etag = 0;
    std::int64_t modified_unix_seconds = 0;
    std::size_t strings = 0;  // offset of the content type, then the id, then a copied value, in strings_
    std::uint16_t content_type_bytes = 0;
    std::uint16_t id_bytes = 0;
    std::uint16_t copied_value_bytes = 0;
    std::string_view value;  // when not copied: within `owner`
    base::SharedBytes owner;
    Completion* completion = nullptr;
    std::size_t charged = 0;  // against the queue budget, until written
  };

  // Queues `record` (its sequence number taken as given). A non-empty value lies in `owner`'s bytes, or
  // `owner` is null and the value is at most kMaxCopiedValueBytes: the caller checks. ENOMEM: unchanged.
  base::Status push(const Record& record, base::SharedBytes owner, Completion& completion,
                    std::size_t charge) noexcept;

  Record record(std::size_t i) const noexcept;
  std::span<Entry> entries() noexcept { return entries_; }
  std::size_t size() const noexcept { return entries_.size(); }
  bool empty() const noexcept { return entries_.empty(); }
  // Drops the entries from `n` on (their copied bytes stay until clear()).
  void truncate(std::size_t n) noexcept { entries_.resize(n < entries_.size() ? n : entries_.size()); }
  void clear() noexcept;  // keeps the capacity
  void swap(SubmissionQueue& other) noexcept;

 private:
  std::vector<Entry> entries_;
  std::string strings_;
};

}  // namespace durable
