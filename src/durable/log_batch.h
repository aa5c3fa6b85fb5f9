#pragma once
// LogBatch: one batch of records laid out for a single gather write (writev): a batch record (durable/
// record.h), then each record's head followed by its value. Values up to kInlineValueBytes are copied next
// to their heads, so that a run of small records is one piece; larger values are left where they lie and
// become pieces of their own, never copied. The pieces point into the batch's buffer and into the values:
// valid until the next build(), and while the values live.
//
// ends() tells how far each record reaches, so that after a write that stopped part-way (a full disk) the
// caller can cut the file back to the last whole record. Used by the log writer's thread only; build()
// reports allocation failure instead of throwing.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "durable/record.h"

namespace durable {

class LogBatch {
 public:
  static constexpr std::size_t kInlineValueBytes = 512;

  // Lays out the batch record (the first record's sequence number, `durable_end`) and `records`, which
  // are non-empty, in sequence order and pass check_record() under `limits`.
  base::Status build(std::uint64_t durable_end, std::span<const Record> records, const RecordLimits& limits) noexcept;

  std::span<const std::string_view> pieces() const noexcept { return pieces_; }
  std::uint64_t size() const noexcept { return ends_.empty() ? 0 : ends_.back(); }
  // Bytes from the start of the batch to the end of its batch record (ends()[0]) and of record i (ends()[i + 1]).
  std::span<const std::uint64_t> ends() const noexcept { return ends_; }
  // How many of the records end within the first `bytes` bytes of the batch, and where the last of them
  // (or the batch record, or the batch's start) ends: the cut that keeps whole records only.
  struct Cut {
    std::size_t records = 0;
    std::uint64_t keep_bytes = 0;
  };
  Cut whole_records_within(std::uint64_t bytes) const noexcept;

 private:
  std::string buffer_;
  std::vector<std::string_view> pieces_;
  std::vector<std::uint64_t> ends_;
};

}  // namespace durable
