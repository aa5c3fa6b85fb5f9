#include "base/shared_bytes.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

namespace base {

// Lives at the start of the block. While a ByteBuilder fills the block these bytes are unused raw space,
// so realloc only ever moves plain bytes; the header is constructed in place by freeze().
struct SharedBytes::Header {
  std::atomic<std::uint32_t> refs{1};
  int fd = -1;  // the memory file holding the block; -1 for a heap block
  std::size_t size = 0;
  MemoryReservation charge;
};

// A file block's header: also what unmapping it and giving back its place in the allowance need.
struct SharedBytes::FileHeader {
  Header base;
  std::size_t mapped = 0;
  ValueFiles* files = nullptr;
};

namespace {
// Keeps the data 16-byte aligned, as malloc's own blocks are.
constexpr std::size_t kHeaderBytes = 32;
constexpr std::size_t kFileHeaderBytes = 64;
constexpr std::size_t kMinimumCapacity = 256;
// The kernel's own cost of one memory file (inode, dentry, open file, mapping), charged with its pages.
constexpr std::size_t kFileKernelBytes = 2048;

std::size_t page_bytes() noexcept {
  static const std::size_t bytes = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return bytes;
}
std::size_t mapped_length(std::size_t capacity) noexcept {
  const std::size_t page = page_bytes();
  return (kFileHeaderBytes + capacity + page - 1) / page * page;
}
// A memory file's block is given back whole: the mapping, the descriptor and its place in the allowance.
void release_file(void* mapping, std::size_t mapped, int fd, ValueFiles& files) noexcept {
  ::munmap(mapping, mapped);
  ::close(fd);
  files.release();
}
}  // namespace

std::size_t SharedBytes::header_bytes() noexcept {
  static_assert(sizeof(Header) <= kHeaderBytes && alignof(Header) <= 16);
  static_assert(sizeof(FileHeader) <= kFileHeaderBytes && std::is_standard_layout_v<FileHeader>);
  return kHeaderBytes;
}

std::size_t SharedBytes::largest_charge(std::size_t size, const ValueFiles* files) noexcept {
  if (size > SIZE_MAX - kFileHeaderBytes - page_bytes() - kFileKernelBytes) return SIZE_MAX;
  if (files == nullptr || size < files->min_bytes()) return kHeaderBytes + size;
  return std::max(kHeaderBytes + size, mapped_length(size) + kFileKernelBytes);
}

// ---- ByteBuilder

ByteBuilder::~ByteBuilder() { clear(); }

ByteBuilder::ByteBuilder(ByteBuilder&& other) noexcept
    : block_(std::exchange(other.block_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)),
      charge_(std::move(other.charge_)),
      files_(other.files_),
      fd_(std::exchange(other.fd_, -1)),
      file_refused_(std::exchange(other.file_refused_, false)),
      mapped_(std::exchange(other.mapped_, 0)) {}

ByteBuilder& ByteBuilder::operator=(ByteBuilder&& other) noexcept {
  if (this != &other) {
    clear();
    block_ = std::exchange(other.block_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
    charge_ = std::move(other.charge_);
    files_ = other.files_;
    fd_ = std::exchange(other.fd_, -1);
    file_refused_ = std::exchange(other.file_refused_, false);
    mapped_ = std::exchange(other.mapped_, 0);
  }
  return *this;
}

char* ByteBuilder::data() const noexcept {
  if (block_ == nullptr) return nullptr;
  return static_cast<char*>(block_) + (fd_ >= 0 ? kFileHeaderBytes : kHeaderBytes);
}

void ByteBuilder::clear() noexcept {
  if (fd_ >= 0) {
    release_file(block_, mapped_, fd_, *files_);
    fd_ = -1;
    mapped_ = 0;
  } else {
    std::free(block_);
  }
  block_ = nullptr;
  size_ = capacity_ = 0;
  charge_.release();
}

bool ByteBuilder::resize_block(std::size_t capacity) noexcept {
  if (fd_ >= 0) return resize_file(capacity);
  if (files_ != nullptr && !file_refused_ && capacity >= files_->min_bytes()) {
    if (move_to_file(capacity)) return true;
    file_refused_ = true;  // asked once per body, so the refusals count bodies, not growth steps
  }
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

// Once per block: the bytes so far (below min_bytes, so little) are copied from the heap block into a new
// file, which then grows in place. Any failure leaves the heap block as it was, for the heap path to grow.
bool ByteBuilder::move_to_file(std::size_t capacity) noexcept {
  if (capacity > SIZE_MAX - kFileHeaderBytes - page_bytes()) return false;
  const std::size_t length = mapped_length(capacity);
  const std::size_t before = charge_.bytes();
  if (!files_->try_acquire()) return false;
  // Both blocks exist while the bytes are copied, so both are charged until then.
  if (!charge_.resize(before + length + kFileKernelBytes)) {
    files_->release();
    return false;
  }
  const int fd = ::memfd_create("storage_api-value", MFD_CLOEXEC);
  void* mapping = MAP_FAILED;
  if (fd >= 0 && ::ftruncate(fd, static_cast<off_t>(length)) == 0) {
    mapping = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  }
  if (mapping == MAP_FAILED) {
    if (fd >= 0) ::close(fd);
    files_->release();
    (void)charge_.resize(before);
    return false;
  }
  if (size_ > 0) std::memcpy(static_cast<char*>(mapping) + kFileHeaderBytes, data(), size_);
  std::free(block_);
  block_ = mapping;
  fd_ = fd;
  mapped_ = length;
  capacity_ = length - kFileHeaderBytes;
  (void)charge_.resize(length + kFileKernelBytes);
  return true;
}

bool ByteBuilder::resize_file(std::size_t capacity) noexcept {
  if (capacity > SIZE_MAX - kFileHeaderBytes - page_bytes()) return false;
  const std::size_t length = mapped_length(capacity);
  if (length != mapped_) {
    const std::size_t before = charge_.bytes();
    if (!charge_.resize(length + kFileKernelBytes)) return false;
    if (length > mapped_) {
      void* moved = MAP_FAILED;
      if (::ftruncate(fd_, static_cast<off_t>(length)) == 0) moved = ::mremap(block_, mapped_, length, MREMAP_MAYMOVE);
      if (moved == MAP_FAILED) {
        // A longer file holds no pages beyond the ones written, so failing to cut it back costs nothing.
        if (::ftruncate(fd_, static_cast<off_t>(mapped_)) != 0) {}
        (void)charge_.resize(before);
        return false;
      }
      block_ = moved;
    } else {
      // Shrinking a mapping in place does not fail, nor does cutting an unsealed memory file; should it
      // fail, the pages stay with the file, charged as before.
      (void)::mremap(block_, mapped_, length, 0);
      if (::ftruncate(fd_, static_cast<off_t>(length)) != 0) {
        (void)charge_.resize(before);
        capacity_ = length - kFileHeaderBytes;
        mapped_ = length;
        return true;
      }
    }
    mapped_ = length;
  }
  capacity_ = length - kFileHeaderBytes;
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
  SharedBytes::Header* header = nullptr;
  if (fd_ >= 0) {
    auto* file = new (block_) SharedBytes::FileHeader();
    file->mapped = mapped_;
    file->files = files_;
    header = &file->base;
    header->fd = std::exchange(fd_, -1);
    mapped_ = 0;
  } else {
    header = new (block_) SharedBytes::Header();
  }
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

SharedBytes SharedBytes::copy_of(std::string_view bytes, MemoryAccount* account, ValueFiles* files) noexcept {
  ByteBuilder builder(account, files);
  if (!builder.reserve_more(bytes.size(), bytes.size())) return SharedBytes();
  builder.append(bytes);
  return std::move(builder).freeze();
}

std::string_view SharedBytes::view() const noexcept {
  if (header_ == nullptr) return {};
  return {reinterpret_cast<const char*>(header_) + (header_->fd >= 0 ? kFileHeaderBytes : kHeaderBytes),
          header_->size};
}

bool SharedBytes::file_backed() const noexcept { return header_ != nullptr && header_->fd >= 0; }

std::optional<SharedBytes::FileLocation> SharedBytes::file_location(const char* at) const noexcept {
  if (!file_backed()) return std::nullopt;
  return FileLocation{header_->fd, static_cast<std::uint64_t>(at - reinterpret_cast<const char*>(header_))};
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
    if (header_->fd >= 0) {
      auto* file = reinterpret_cast<FileHeader*>(header_);
      const int fd = file->base.fd;
      const std::size_t mapped = file->mapped;
      ValueFiles* files = file->files;
      file->~FileHeader();  // releases the charge
      release_file(file, mapped, fd, *files);
    } else {
      header_->~Header();  // releases the charge
      std::free(header_);
    }
  }
  header_ = nullptr;
}

}  // namespace base
