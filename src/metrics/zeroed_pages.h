#pragma once
// ZeroedPages: a private anonymous memory mapping that reads as zero and owns its pages.
//
// The kernel supplies each page only when it is first written, so a large table of counters that is
// mostly never used costs neither memory nor start-up time: no page is touched to zero it, unlike
// `new T[n]()` or `std::vector`, which write every byte before the first use. The mapping is released on
// destruction. The constructor throws std::bad_alloc when the mapping fails (start-up only).
#include <cstddef>

namespace metrics {

class ZeroedPages {
 public:
  explicit ZeroedPages(std::size_t bytes);  // at least `bytes`, page-aligned; 0 maps nothing
  ~ZeroedPages();
  ZeroedPages(ZeroedPages&& other) noexcept;
  ZeroedPages& operator=(ZeroedPages&& other) noexcept;
  ZeroedPages(const ZeroedPages&) = delete;
  ZeroedPages& operator=(const ZeroedPages&) = delete;

  void* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }

 private:
  void release() noexcept;

  void* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace metrics
