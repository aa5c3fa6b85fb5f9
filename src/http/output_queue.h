#pragma once
// OutputQueue: what a connection still owes its peer, in order — owned bytes (response heads, small and
// generated bodies) and shared slices of stored values — gathered into iovecs so one sendmsg writes a
// head and its body together. A large GET therefore costs the connection only its head: the body is sent
// from the store's own memory, whose charge stays with the stored value (SharedBytes), and the owned bytes
// are charged to the connection's buffer account as they grow. A slice of a value kept in a memory file
// (base/shared_bytes.h) is not gathered but offered as a FileSlice, for the server to send with sendfile().
// Nothing here throws; growth that the account or the allocator refuses is reported as false.
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "base/buffer.h"
#include "base/shared_bytes.h"

namespace http {

class OutputQueue {
 public:
  explicit OutputQueue(base::MemoryAccount* account = nullptr) noexcept : owned_(account) {}

  // Space for owned bytes at the end of the queue (empty when refused); commit() what was written there.
  std::span<char> writable(std::size_t min_bytes) noexcept { return owned_.writable(min_bytes); }
  void commit(std::size_t n) noexcept;
  [[nodiscard]] bool append(std::string_view bytes) noexcept;
  // A slice of `owner`'s bytes, sent without copying; `owner` keeps them alive until they are written.
  // reserve_shared_slice() first makes sure it can be queued without allocating, so a caller can queue a
  // head and then its body with nothing left to fail in between.
  [[nodiscard]] bool reserve_shared_slice() noexcept;
  void append_reserved_shared(base::SharedBytes owner, std::string_view slice) noexcept;

  // The next bytes to write, as at most out.size() iovecs; their count. Gathering stops before a slice in
  // a memory file; `file_follows` (when given) says whether one comes right after what was gathered, so
  // the caller can send with MSG_MORE and let a head share its first segment with the body.
  std::size_t gather(std::span<iovec> out, bool* file_follows = nullptr) const noexcept;
  // When the next bytes to write lie in a memory file: which, where and how many (for sendfile()).
  struct FileSlice {
    int fd = -1;
    std::uint64_t offset = 0;
    std::size_t length = 0;
  };
  std::optional<FileSlice> front_file_slice() const noexcept;
  void consume(std::size_t n) noexcept;  // the first n gathered bytes were written

  bool empty() const noexcept { return total_ == 0; }
  std::size_t size() const noexcept { return total_; }                // every byte still to write
  std::size_t owned_bytes() const noexcept { return owned_.size(); }  // what the connection itself holds
  std::size_t shared_slices() const noexcept { return shared_slices_; }
  // Frees owned storage above `keep` bytes once everything is written (idle connections stay small).
  void shrink_if_empty(std::size_t keep) noexcept;

 private:
  // A run of owned bytes (owner null: the next `length` bytes of owned_) or a shared slice.
  struct Segment {
    base::SharedBytes owner;
    const char* data = nullptr;
    std::size_t length = 0;
  };

  base::Buffer owned_;
  // Empty while every queued byte is owned (the common case: one contiguous run, no bookkeeping).
  std::vector<Segment> segments_;
  std::size_t first_ = 0;  // segments_ before it are written
  std::size_t total_ = 0;
  std::size_t shared_slices_ = 0;
};

}  // namespace http
