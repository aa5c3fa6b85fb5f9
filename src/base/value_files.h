#pragma once
// ValueFiles: the allowance of large values that may live in anonymous memory files (memfd) instead of
// heap blocks. A value in such a file is sent with sendfile() from its own pages, as a web server sends a
// static file: the kernel references the pages from the socket's buffers instead of copying the bytes in.
// Each file costs a descriptor and a mapping, so their number is capped (main sizes the cap from what
// RLIMIT_NOFILE leaves after the connections and from vm.max_map_count); values smaller than min_bytes(),
// or past the cap, stay on the heap and are sent with sendmsg as before. The memory itself is charged to
// the same budgets as a heap block's (base/shared_bytes.h). Thread-safe; acquisitions are counted so that
// a cap that is too small is visible.
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace base {

class ValueFiles {
 public:
  ValueFiles(std::size_t max_files, std::size_t min_bytes) noexcept : max_files_(max_files), min_bytes_(min_bytes) {}
  ValueFiles(const ValueFiles&) = delete;
  ValueFiles& operator=(const ValueFiles&) = delete;

  // Values of at least this many bytes are worth a file of their own.
  std::size_t min_bytes() const noexcept { return min_bytes_; }
  std::size_t max_files() const noexcept { return max_files_; }

  // One more file, or false (and counted) when the cap is reached.
  [[nodiscard]] bool try_acquire() noexcept {
    std::size_t current = in_use_.load(std::memory_order_relaxed);
    do {
      if (current >= max_files_) {
        refusals_.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
    } while (!in_use_.compare_exchange_weak(current, current + 1, std::memory_order_relaxed));
    return true;
  }
  void release() noexcept { in_use_.fetch_sub(1, std::memory_order_relaxed); }

  std::size_t in_use() const noexcept { return in_use_.load(std::memory_order_relaxed); }
  std::uint64_t refusals() const noexcept { return refusals_.load(std::memory_order_relaxed); }

 private:
  const std::size_t max_files_;
  const std::size_t min_bytes_;
  std::atomic<std::size_t> in_use_{0};
  std::atomic<std::uint64_t> refusals_{0};
};

}  // namespace base
