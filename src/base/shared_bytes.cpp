#include "base/shared_bytes.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace base {

// Lives at the start of the block. While a ByteBuilder fills the block these bytes are unused raw space,
// so realloc only ever moves plain bytes; the header is constructed in place by freeze().
struct SharedBytes::Header {
  std::atomic<std::uint32_t> refs{1};
  std::size_t size = 0;
  MemoryReservation charge;
};

namespace {
// Keeps the data 16-byte aligned, as malloc's own blocks are.
constexpr std::size_t kHeaderBytes = 32;
constexpr std::size_t kMinimumCapacity = 256;
}  // namespace

std::size_t SharedBytes::header_bytes() noexcept {
  static_assert(sizeof(Header) <= kHeaderBytes && alignof(Header) <= 16);
  return kHeaderBytes;
}

// ---- ByteBuilder

ByteBuilder::~ByteBuilder() { clear(); }

ByteBuilder::ByteBuilder(ByteBuilder&& other) noexcept
    : block_(std::exchange(other.block_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)),
      charge_(std::move(other.charge_)) {}

ByteBuilder& ByteBuilder::operator=(ByteBuilder&& other) noexcept {
  if (this != &other) {
    clear();
    block_ = std::exchange(other.block_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
    charge_ = std::move(other.charge_);
  }
  return *this;
}

char* ByteBuilder::data() const noexcept {
  return block_ == nullptr ? nullptr : static_cast<char*>(block_) + kHeaderBytes;
}

void ByteBuilder::clear() noexcept {
  std::free(block_);
  block_ = nullptr;
  size_ = capacity_ = 0;
  charge_.release();
}

bool ByteBuilder::resize_block(std::size_t capacity) noexcept {
  // Charge first: the budget must agree before the allocator is asked.
  const std::size_t before = charge_.bytes();
  if (!charge_.resize(kHeaderBytes + capacity)) return false;
  void* grown = std::realloc(block_, kHeaderBytes + capacity);
  if (grown == nullptr) {
    (void)charge_.resize(before);  // shrinking back always succeeds
    return false;
  }
  block_ = grown;
  capacity_ = capacity;
  return true;
}

bool ByteBuilder::reserve_more(std::size_t more, std::size_t capacity_limit) noexcept {
  if (more <= capacity_ - size_) return true;
  if (more > SIZE_MAX - kHeaderBytes - size_) return false;
  const std::size_t needed = size_ + more;
  std::size_t target = capacity_ > SIZE_MAX / 2 ? needed : std::max({needed, capacity_ * 2, kMinimumCapacity});
  if (target > capacity_limit) target = std::max(needed, capacity_limit);
  return resize_block(target);
}

void ByteBuilder::append(std::string_view bytes) noexcept {
  if (bytes.empty()) return;
  std::memcpy(data() + size_, bytes.data(), bytes.size());
  size_ += bytes.size();
}

SharedBytes ByteBuilder::freeze() && noexcept {
  // Trim spare capacity when it is worth it: realloc to a smaller size is cheap and returns memory the
  // budget would otherwise go on counting.
  if (block_ == nullptr || capacity_ - size_ > std::max<std::size_t>(capacity_ / 16, 64)) {
    if (!resize_block(size_)) {
      if (block_ == nullptr) return SharedBytes();
      // Keeping the larger block is correct, only less frugal.
    }
  }
  auto* header = new (block_) SharedBytes::Header();
  header->size = size_;
  header->charge = std::move(charge_);
  block_ = nullptr;
  size_ = capacity_ = 0;
  return SharedBytes(header);
}

// ---- SharedBytes

SharedBytes& SharedBytes::operator=(const SharedBytes& other) noexcept {
  if (this != &other) {
    other.ref();
    unref();
    header_ = other.header_;
  }
  return *this;
}

SharedBytes& SharedBytes::operator=(SharedBytes&& other) noexcept {
  if (this != &other) {
    unref();
    header_ = std::exchange(other.header_, nullptr);
  }
  return *this;
}

SharedBytes SharedBytes::copy_of(std::string_view bytes, MemoryAccount* account) noexcept {
  ByteBuilder builder(account);
  if (!builder.reserve_more(bytes.size(), bytes.size())) return SharedBytes();
  builder.append(bytes);
  return std::move(builder).freeze();
}

std::string_view SharedBytes::view() const noexcept {
  if (header_ == nullptr) return {};
  return {reinterpret_cast<const char*>(header_) + kHeaderBytes, header_->size};
}

std::uint32_t SharedBytes::use_count() const noexcept {
  return header_ == nullptr ? 0 : header_->refs.load(std::memory_order_acquire);
}

std::size_t SharedBytes::charged_bytes() const noexcept { return header_ == nullptr ? 0 : header_->charge.bytes(); }

MemoryReservation* SharedBytes::sole_owner_charge() noexcept {
  return use_count() == 1 ? &header_->charge : nullptr;
}

void SharedBytes::ref() const noexcept {
  if (header_ != nullptr) header_->refs.fetch_add(1, std::memory_order_relaxed);
}

void SharedBytes::unref() noexcept {
  if (header_ == nullptr) return;
  // acq_rel: every owner's reads of the bytes happen before the last one frees them.
  if (header_->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    header_->~Header();  // releases the charge
    std::free(header_);
  }
  header_ = nullptr;
}

}  // namespace base
