#pragma once
// ByteBuilder and SharedBytes: a request body as it arrives, and the immutable stored value it becomes,
// in one allocation from the first byte to the last reader, never copied between the two.
//
// ByteBuilder collects bytes in a malloc'd block that grows by realloc (large blocks move by remapping
// pages, not copying) and charges its whole allocation to a MemoryAccount before allocating it, so a body
// can never hold memory its budget did not grant. freeze() trims the spare capacity and turns the block
// into SharedBytes: intrusively reference-counted, immutable bytes whose charge goes with them and is
// released when the last reference does. A response can therefore send a stored value straight from the
// store's memory, and a value replaced or deleted while a slow client still reads it stays counted until
// that client is done.
//
// With a ValueFiles allowance (base/value_files.h), a block that grows to its min_bytes() moves once into an
// anonymous memory file (memfd) mapped in its place, so that a response can send it with sendfile() from
// the file's pages; such a block is charged its mapped pages plus the kernel's cost of the file, and gives
// its descriptor and its place in the allowance back with its last reference. Pages the kernel still
// references from a socket outlive the file unchanged: a stored value is never written once frozen.
//
// Neither type throws: allocation failure is reported as false or as a null SharedBytes.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "base/memory_account.h"
#include "base/value_files.h"

namespace base {

class SharedBytes;

class ByteBuilder {
 public:
  ByteBuilder() noexcept = default;
  // Charges to `account` (none: the bytes are paid for by no budget, as in tests).
  explicit ByteBuilder(MemoryAccount* account, ValueFiles* files = nullptr) noexcept
      : charge_(account ? MemoryReservation(*account) : MemoryReservation()), files_(files) {}
  ~ByteBuilder();
  ByteBuilder(ByteBuilder&& other) noexcept;
  ByteBuilder& operator=(ByteBuilder&& other) noexcept;
  ByteBuilder(const ByteBuilder&) = delete;
  ByteBuilder& operator=(const ByteBuilder&) = delete;

  // Room for `more` bytes after size(): capacity grows to at least size() + more, doubling for amortised
  // growth but never past `capacity_limit`. False, with nothing changed, when the account or the allocator
  // refuses.
  [[nodiscard]] bool reserve_more(std::size_t more, std::size_t capacity_limit = SIZE_MAX) noexcept;
  std::span<char> spare() noexcept { return {data() + size_, capacity_ - size_}; }
  void commit(std::size_t n) noexcept { size_ += n; }
  void append(std::string_view bytes) noexcept;  // needs bytes.size() <= spare().size()

  std::string_view view() const noexcept { return {data(), size_}; }
  std::size_t size() const noexcept { return size_; }
  std::size_t capacity() const noexcept { return capacity_; }
  bool empty() const noexcept { return size_ == 0; }
  bool file_backed() const noexcept { return fd_ >= 0; }
  const MemoryReservation& charge() const noexcept { return charge_; }
  MemoryAccount* account() const noexcept { return charge_.account(); }

  void clear() noexcept;  // frees the block and releases its charge; the account stays
  // The bytes as SharedBytes, charge included; the builder is left empty. Null when even an empty block
  // cannot be allocated.
  SharedBytes freeze() && noexcept;

 private:
  char* data() const noexcept;
  bool resize_block(std::size_t capacity) noexcept;
  bool move_to_file(std::size_t capacity) noexcept;
  bool resize_file(std::size_t capacity) noexcept;

  void* block_ = nullptr;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
  MemoryReservation charge_;
  ValueFiles* files_ = nullptr;
  int fd_ = -1;              // the memory file behind block_, or -1 while block_ is a heap block
  bool file_refused_ = false;  // the allowance said no once: this body stays on the heap
  std::size_t mapped_ = 0;   // the file's mapped length
};

class SharedBytes {
 public:
  SharedBytes() noexcept = default;
  ~SharedBytes() { unref(); }
  SharedBytes(const SharedBytes& other) noexcept : header_(other.header_) { ref(); }
  SharedBytes& operator=(const SharedBytes& other) noexcept;
  SharedBytes(SharedBytes&& other) noexcept : header_(other.header_) { other.header_ = nullptr; }
  SharedBytes& operator=(SharedBytes&& other) noexcept;

  // A charged copy of `bytes`; null when the account or the allocator refuses.
  static SharedBytes copy_of(std::string_view bytes, MemoryAccount* account = nullptr,
                             ValueFiles* files = nullptr) noexcept;

  explicit operator bool() const noexcept { return header_ != nullptr; }
  std::string_view view() const noexcept;
  std::size_t size() const noexcept { return view().size(); }
  const char* data() const noexcept { return view().data(); }

  // References to these bytes. Exact while the caller keeps other threads from taking new ones (the store
  // holds its shard lock); otherwise a snapshot.
  std::uint32_t use_count() const noexcept;
  std::size_t charged_bytes() const noexcept;
  // The charge, for a caller that holds the only reference (use_count() == 1) to move it between accounts;
  // null otherwise, because other owners may be reading it.
  MemoryReservation* sole_owner_charge() noexcept;

  // Where the byte at `at` (within view()) lies in the block's memory file, for sendfile(); nullopt for a
  // heap block.
  struct FileLocation {
    int fd = -1;
    std::uint64_t offset = 0;
  };
  std::optional<FileLocation> file_location(const char* at) const noexcept;
  bool file_backed() const noexcept;

  // Bytes of bookkeeping in front of the data in every heap block (counted in its charge).
  static std::size_t header_bytes() noexcept;
  // The most a frozen block of `size` bytes built with `files` is charged: on the heap, or, when `files`
  // may take it, in a memory file (page rounding and the kernel's cost of the file included).
  static std::size_t largest_charge(std::size_t size, const ValueFiles* files) noexcept;

 private:
  friend class ByteBuilder;
  struct Header;
  struct FileHeader;
  explicit SharedBytes(Header* header) noexcept : header_(header) {}
  void ref() const noexcept;
  void unref() noexcept;

  Header* header_ = nullptr;
};

}  // namespace base
