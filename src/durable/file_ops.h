#pragma once
// FileSystem: the one seam through which the durable log and its snapshots touch files, after LevelDB's
// Env but only what they need. PosixFileSystem makes the system calls; tests put a fault-injecting one in
// between (tests/durable/fault_injection_fs.h) to model power cuts, failing syncs and full disks.
//
// Every call reports failure as a Status naming the operation, the path and errno (kept in
// error_number(), so is_no_space() and friends can branch on it); nothing throws, and EINTR is retried.
//
// Durability is the caller's to ask for, as POSIX leaves it: data written by append() is durable after
// sync_data() (fdatasync: the data and the size needed to read it back) or sync() (fsync: all metadata);
// a created, renamed or unlinked name is durable only after sync_directory() on the directory holding
// it — the file's own fsync does not cover its name.
//
// Writing is append-only: there is no pwrite, since on Linux pwrite to an O_APPEND descriptor ignores its
// offset and appends anyway, and the log never rewrites what it wrote.
//
// Reading a segment that may be gigabytes goes through map_file(): a read-only private mapping, paged in as
// it is read and never copied. The file must not shrink while mapped (reading past its new end raises
// SIGBUS); the data directory's lock keeps other processes out, and a reader truncates only after unmapping.
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"

namespace durable {

// ENOSPC or EDQUOT: the disk (or the quota) is full, as opposed to failing.
bool is_no_space(const base::Status& status) noexcept;
// EWOULDBLOCK from lock_file(): another open file description holds the lock.
bool is_locked(const base::Status& status) noexcept;

// A file open for appending (O_APPEND): every write lands at its end, whatever else writes to it.
class AppendFile {
 public:
  virtual ~AppendFile() = default;
  // Writes all of `pieces`, in order, with writev (resumed after a short write). On an error some prefix of
  // the bytes may be in the file: its tail is then unknown to the caller.
  virtual base::Status append(std::span<const std::string_view> pieces) noexcept = 0;
  base::Status append(std::string_view bytes) noexcept { return append(std::span<const std::string_view>(&bytes, 1)); }
  virtual base::Status sync_data() noexcept = 0;  // fdatasync
  virtual base::Status sync() noexcept = 0;       // fsync
  virtual base::Result<std::uint64_t> size() noexcept = 0;
  // Closes the descriptor, reporting what close(2) reports; destruction closes without a word.
  virtual base::Status close() noexcept = 0;
  virtual const std::string& path() const noexcept = 0;
};

// An exclusive flock(2) on a lock file, released when destroyed (or when the process dies).
class FileLock {
 public:
  FileLock() noexcept = default;
  explicit FileLock(base::UniqueFd fd) noexcept : fd_(std::move(fd)) {}
  bool held() const noexcept { return fd_.valid(); }

 private:
  base::UniqueFd fd_;
};

// A read-only view of a whole file, unmapped when destroyed. An empty file maps to an empty view.
class MappedFile {
 public:
  MappedFile() noexcept = default;
  // Takes over a region mmap() returned.
  MappedFile(void* address, std::size_t size) noexcept : address_(address), size_(size) {}
  ~MappedFile() { reset(); }
  MappedFile(MappedFile&& other) noexcept
      : address_(std::exchange(other.address_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  MappedFile& operator=(MappedFile&& other) noexcept {
    if (this != &other) {
      reset();
      address_ = std::exchange(other.address_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::string_view bytes() const noexcept { return {static_cast<const char*>(address_), size_}; }
  void reset() noexcept;

 private:
  void* address_ = nullptr;
  std::size_t size_ = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // Opens `path` for appending (O_WRONLY | O_APPEND | O_CLOEXEC), creating it with mode 0600.
  virtual base::Result<std::unique_ptr<AppendFile>> open_append(const std::string& path) noexcept = 0;
  virtual base::Result<std::string> read_file(const std::string& path) noexcept = 0;
  // Up to out.size() bytes from `offset`; fewer only at the end of the file.
  virtual base::Result<std::size_t> read_at(const std::string& path, std::uint64_t offset,
                                            std::span<char> out) noexcept = 0;
  virtual base::Result<std::uint64_t> file_size(const std::string& path) noexcept = 0;
  virtual base::Status truncate(const std::string& path, std::uint64_t size) noexcept = 0;
  // rename(2): atomic, replacing `to` if it exists.
  virtual base::Status rename(const std::string& from, const std::string& to) noexcept = 0;
  virtual base::Status unlink(const std::string& path) noexcept = 0;
  // mkdir with mode 0700; ok when it is a directory already.
  virtual base::Status create_directory(const std::string& path) noexcept = 0;
  // The names in the directory, sorted, without "." and "..".
  virtual base::Result<std::vector<std::string>> list_directory(const std::string& path) noexcept = 0;
  virtual base::Status sync_directory(const std::string& path) noexcept = 0;
  // Creates `path` (0600) if needed and takes flock(LOCK_EX | LOCK_NB) on it: is_locked() when held by
  // another open file description, in this process or another.
  virtual base::Result<FileLock> lock_file(const std::string& path) noexcept = 0;
  // Maps the whole file read-only (mmap PROT_READ, MAP_PRIVATE), advising sequential reading.
  virtual base::Result<MappedFile> map_file(const std::string& path) noexcept = 0;
};

class PosixFileSystem final : public FileSystem {
 public:
  base::Result<std::unique_ptr<AppendFile>> open_append(const std::string& path) noexcept override;
  base::Result<std::string> read_file(const std::string& path) noexcept override;
  base::Result<std::size_t> read_at(const std::string& path, std::uint64_t offset,
                                    std::span<char> out) noexcept override;
  base::Result<std::uint64_t> file_size(const std::string& path) noexcept override;
  base::Status truncate(const std::string& path, std::uint64_t size) noexcept override;
  base::Status rename(const std::string& from, const std::string& to) noexcept override;
  base::Status unlink(const std::string& path) noexcept override;
  base::Status create_directory(const std::string& path) noexcept override;
  base::Result<std::vector<std::string>> list_directory(const std::string& path) noexcept override;
  base::Status sync_directory(const std::string& path) noexcept override;
  base::Result<FileLock> lock_file(const std::string& path) noexcept override;
  base::Result<MappedFile> map_file(const std::string& path) noexcept override;
};

}  // namespace durable
