#pragma once
// Buffer: a growable byte queue for one direction of one connection. Bytes are appended at the back and
// consumed from the front; readable() is one contiguous view. Storage is allocated lazily, left
// uninitialised, and — when the buffer has an account — charged to that MemoryAccount before it is
// allocated, so a client cannot make a buffer grow past the budget that pays for it. Nothing here throws:
// growth that the account or the allocator refuses is reported as false and changes nothing.
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>
#include <utility>

#include "base/memory_account.h"

namespace base {

class Buffer {
 public:
  Buffer() noexcept = default;
  explicit Buffer(MemoryAccount* account) noexcept
      : charge_(account != nullptr ? MemoryReservation(*account) : MemoryReservation()) {}
  ~Buffer() { std::free(data_); }
  Buffer(Buffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), capacity_(std::exchange(other.capacity_, 0)),
        begin_(std::exchange(other.begin_, 0)), end_(std::exchange(other.end_, 0)), charge_(std::move(other.charge_)) {}
  Buffer& operator=(Buffer&& other) noexcept {
    if (this != &other) {
      std::free(data_);
      data_ = std::exchange(other.data_, nullptr);
      capacity_ = std::exchange(other.capacity_, 0);
      begin_ = std::exchange(other.begin_, 0);
      end_ = std::exchange(other.end_, 0);
      charge_ = std::move(other.charge_);
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  std::string_view readable() const noexcept { return {data_ + begin_, end_ - begin_}; }
  std::size_t size() const noexcept { return end_ - begin_; }
  bool empty() const noexcept { return begin_ == end_; }
  std::size_t capacity() const noexcept { return capacity_; }

  void consume(std::size_t n) noexcept {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;  // cheap rewind keeps the common case free of memmove
  }

  // At least min_bytes of space after the readable bytes (compacting or growing as needed); an empty span
  // when the account or the allocator refuses.
  std::span<char> writable(std::size_t min_bytes) noexcept {
    if (capacity_ - end_ < min_bytes && !make_room(min_bytes)) return {};
    return {data_ + end_, capacity_ - end_};
  }
  void commit(std::size_t n) noexcept { end_ += n; }

  [[nodiscard]] bool append(std::string_view bytes) noexcept {
    if (bytes.empty()) return true;
    std::span<char> space = writable(bytes.size());
    if (space.empty()) return false;
    std::memcpy(space.data(), bytes.data(), bytes.size());
    commit(bytes.size());
    return true;
  }

  // Gives memory back after a large transfer so that thousands of idle connections stay small.
  void shrink_if_empty_and_larger_than(std::size_t limit) noexcept {
    if (empty() && capacity_ > limit) release();
  }
  void release() noexcept {
    std::free(data_);
    data_ = nullptr;
    capacity_ = begin_ = end_ = 0;
    charge_.release();
  }

 private:
  static constexpr std::size_t kInitialCapacity = 4096;

  bool make_room(std::size_t min_bytes) noexcept {
    const std::size_t used = size();
    if (begin_ > 0 && capacity_ - used >= min_bytes && used <= capacity_ / 2) {
      std::memmove(data_, data_ + begin_, used);
      begin_ = 0;
      end_ = used;
      return true;
    }
    std::size_t new_capacity = capacity_ ? capacity_ : kInitialCapacity;
    while (new_capacity - used < min_bytes) {
      if (new_capacity > SIZE_MAX / 2) return false;
      new_capacity *= 2;
    }
    if (!charge_.resize(charge_.bytes() - capacity_ + new_capacity)) return false;
    char* bigger = static_cast<char*>(std::malloc(new_capacity));
    if (bigger == nullptr) {
      (void)charge_.resize(charge_.bytes() - new_capacity + capacity_);  // shrinking always succeeds
      return false;
    }
    if (used) std::memcpy(bigger, data_ + begin_, used);
    std::free(data_);
    data_ = bigger;
    capacity_ = new_capacity;
    begin_ = 0;
    end_ = used;
    return true;
  }

  char* data_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  MemoryReservation charge_;
};

}  // namespace base
