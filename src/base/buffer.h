#pragma once
// Buffer: a growable byte queue for one connection direction. Bytes are appended at the back (directly by
// read(2) through writable()/commit(), or by append()) and consumed from the front; readable() is one
// contiguous view. Storage is allocated lazily and left uninitialised, so idle connections cost nothing
// and reads do not pay for zero-filling.
#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

namespace base {

class Buffer {
 public:
  std::string_view readable() const noexcept { return {data_.get() + begin_, end_ - begin_}; }
  std::size_t size() const noexcept { return end_ - begin_; }
  bool empty() const noexcept { return begin_ == end_; }
  std::size_t capacity() const noexcept { return capacity_; }

  void consume(std::size_t n) noexcept {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;  // cheap rewind keeps the common case free of memmove
  }

  // At least min_bytes of space after the readable bytes; compacts or grows as needed.
  std::span<char> writable(std::size_t min_bytes) {
    if (capacity_ - end_ < min_bytes) make_room(min_bytes);
    return {data_.get() + end_, capacity_ - end_};
  }
  void commit(std::size_t n) noexcept { end_ += n; }

  void append(std::string_view bytes) {
    if (bytes.empty()) return;
    std::span<char> space = writable(bytes.size());
    std::memcpy(space.data(), bytes.data(), bytes.size());
    commit(bytes.size());
  }

  // Gives memory back after a large transfer so that thousands of idle connections stay small.
  void shrink_if_empty_and_larger_than(std::size_t limit) noexcept {
    if (empty() && capacity_ > limit) {
      data_.reset();
      capacity_ = begin_ = end_ = 0;
    }
  }

 private:
  static constexpr std::size_t kInitialCapacity = 4096;

  void make_room(std::size_t min_bytes) {
    const std::size_t used = size();
    if (begin_ > 0 && capacity_ - used >= min_bytes && used <= capacity_ / 2) {
      std::memmove(data_.get(), data_.get() + begin_, used);
    } else {
      std::size_t new_capacity = capacity_ ? capacity_ : kInitialCapacity;
      while (new_capacity - used < min_bytes) new_capacity *= 2;
      auto bigger = std::make_unique_for_overwrite<char[]>(new_capacity);
      if (used) std::memcpy(bigger.get(), data_.get() + begin_, used);
      data_ = std::move(bigger);
      capacity_ = new_capacity;
    }
    begin_ = 0;
    end_ = used;
  }

  std::unique_ptr<char[]> data_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace base
