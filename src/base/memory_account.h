#pragma once
// MemoryAccount: one budget of the process's memory budget (stored entries, request bodies in flight,
// connection buffers), shared by every thread. A reservation either fits under the limit and is taken whole,
// or changes nothing: used() never exceeds limit(), so a client that would pass a limit is refused instead
// of the process being OOM-killed. Relaxed atomics suffice: the counter is a total; what it describes is
// owned and synchronised elsewhere.
//
// MemoryReservation is the RAII form: the bytes one object holds against one account, released when it goes.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <utility>

namespace base {

class MemoryAccount {
 public:
  explicit MemoryAccount(std::size_t limit) noexcept : limit_(limit) {}
  MemoryAccount(const MemoryAccount&) = delete;
  MemoryAccount& operator=(const MemoryAccount&) = delete;

  [[nodiscard]] bool try_reserve(std::size_t bytes) noexcept {
    std::size_t current = used_.load(std::memory_order_relaxed);
    do {
      if (bytes > limit_ || current > limit_ - bytes) {
        refusals_.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
    } while (!used_.compare_exchange_weak(current, current + bytes, std::memory_order_relaxed));
    return true;
  }
  void release(std::size_t bytes) noexcept { used_.fetch_sub(bytes, std::memory_order_relaxed); }

  std::size_t used() const noexcept { return used_.load(std::memory_order_relaxed); }
  std::size_t limit() const noexcept { return limit_; }
  std::size_t available() const noexcept {
    const std::size_t u = used();
    return u >= limit_ ? 0 : limit_ - u;
  }
  // Reservations refused since start (each try_reserve() that returned false).
  std::uint64_t refusals() const noexcept { return refusals_.load(std::memory_order_relaxed); }

 private:
  const std::size_t limit_;
  std::atomic<std::size_t> used_{0};
  std::atomic<std::uint64_t> refusals_{0};
};

class MemoryReservation {
 public:
  MemoryReservation() noexcept = default;
  explicit MemoryReservation(MemoryAccount& account) noexcept : account_(&account) {}
  ~MemoryReservation() { release(); }
  MemoryReservation(MemoryReservation&& other) noexcept
      : account_(std::exchange(other.account_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
  MemoryReservation& operator=(MemoryReservation&& other) noexcept {
    if (this != &other) {
      release();
      account_ = std::exchange(other.account_, nullptr);
      bytes_ = std::exchange(other.bytes_, 0);
    }
    return *this;
  }
  MemoryReservation(const MemoryReservation&) = delete;
  MemoryReservation& operator=(const MemoryReservation&) = delete;

  // Takes over `bytes` the caller already reserved on `account` with try_reserve(). Lets one reservation,
  // taken whole in a single step so that no other thread sees a part of it, be split among its holders.
  static MemoryReservation adopt(MemoryAccount& account, std::size_t bytes) noexcept {
    MemoryReservation reservation(account);
    reservation.bytes_ = bytes;
    return reservation;
  }

  // Holds `total` bytes from now on; false (and unchanged) when growing would pass the account's limit.
  // Without an account every size is granted: the memory is then paid for by no budget on purpose (tests).
  [[nodiscard]] bool resize(std::size_t total) noexcept {
    if (account_ == nullptr || total == bytes_) {
      if (account_ == nullptr) bytes_ = total;
      return true;
    }
    if (total > bytes_) {
      if (!account_->try_reserve(total - bytes_)) return false;
    } else {
      account_->release(bytes_ - total);
    }
    bytes_ = total;
    return true;
  }
  void release() noexcept {
    if (account_ != nullptr && bytes_ != 0) account_->release(bytes_);
    bytes_ = 0;
  }
  // Moves the bytes held to `other` account: reserves there first, so on false nothing changed.
  [[nodiscard]] bool move_to(MemoryAccount& other) noexcept {
    if (&other == account_) return true;
    if (bytes_ != 0 && !other.try_reserve(bytes_)) return false;
    if (account_ != nullptr && bytes_ != 0) account_->release(bytes_);
    account_ = &other;
    return true;
  }

  // Stops holding the bytes without releasing them and returns them: the caller now accounts for them on
  // the same account (folds them into one step with other changes, then adopt()s what it keeps).
  [[nodiscard]] std::size_t disown() noexcept { return std::exchange(bytes_, 0); }

  std::size_t bytes() const noexcept { return bytes_; }
  MemoryAccount* account() const noexcept { return account_; }

 private:
  MemoryAccount* account_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace base
