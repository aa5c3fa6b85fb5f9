#include "durable/file_ops.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cerrno>
#include <exception>

namespace durable {
namespace {

using base::Result;
using base::Status;

Status errno_status(std::string_view operation, const std::string& path, int error_number) {
  std::string what(operation);
  what.append(" ").append(path);
  return Status::from_errno(what, error_number);
}

Status out_of_memory(std::string_view operation, const std::string& path) {
  return Status::error(std::string(operation) + " " + path + ": out of memory", ENOMEM);
}

// Runs a system call returning -1/errno until it is not interrupted.
template <typename Call>
auto retry_eintr(Call call) noexcept {
  for (;;) {
    const auto result = call();
    if (result >= 0 || errno != EINTR) return result;
  }
}

class PosixAppendFile final : public AppendFile {
 public:
  PosixAppendFile(std::string path, base::UniqueFd fd) noexcept : path_(std::move(path)), fd_(std::move(fd)) {}

  Status append(std::span<const std::string_view> pieces) noexcept override {
    constexpr std::size_t kBatch = IOV_MAX;  // a log batch's pieces in as few calls as the kernel takes
    std::size_t piece = 0;
    std::size_t done = 0;  // bytes of pieces[piece] already written
    for (;;) {
      while (piece < pieces.size() && done == pieces[piece].size()) {
        ++piece;
        done = 0;
      }
      if (piece == pieces.size()) return Status::ok();
      iovec iov[kBatch];
      int count = 0;
      for (std::size_t i = piece; i < pieces.size() && count < static_cast<int>(kBatch); ++i) {
        const std::size_t from = i == piece ? done : 0;
        if (pieces[i].size() == from) continue;
        iov[count].iov_base = const_cast<char*>(pieces[i].data() + from);
        iov[count].iov_len = pieces[i].size() - from;
        ++count;
      }
      const ssize_t written = retry_eintr([&] { return ::writev(fd_.get(), iov, count); });
      if (written < 0) return errno_status("append", path_, errno);
      if (written == 0) return Status::error("append " + path_ + ": writev wrote nothing", EIO);
      for (auto left = static_cast<std::size_t>(written); left > 0;) {
        const std::size_t step = std::min(left, pieces[piece].size() - done);
        done += step;
        left -= step;
        if (done == pieces[piece].size()) {
          ++piece;
          done = 0;
        }
      }
    }
  }

  Status sync_data() noexcept override {
    if (retry_eintr([&] { return ::fdatasync(fd_.get()); }) < 0) return errno_status("fdatasync", path_, errno);
    return Status::ok();
  }
  Status sync() noexcept override {
    if (retry_eintr([&] { return ::fsync(fd_.get()); }) < 0) return errno_status("fsync", path_, errno);
    return Status::ok();
  }
  Result<std::uint64_t> size() noexcept override {
    struct stat st {};
    if (::fstat(fd_.get(), &st) < 0) return errno_status("fstat", path_, errno);
    return static_cast<std::uint64_t>(st.st_size);
  }
  Status close() noexcept override {
    // Not retried: on Linux the descriptor is gone after close(2) whatever it returns, and EINTR loses
    // nothing that a sync has not already reported.
    if (::close(fd_.release()) < 0 && errno != EINTR) return errno_status("close", path_, errno);
    return Status::ok();
  }
  const std::string& path() const noexcept override { return path_; }

 private:
  std::string path_;
  base::UniqueFd fd_;
};

struct DirCloser {
  void operator()(DIR* dir) const noexcept { ::closedir(dir); }
};

}  // namespace

void MappedFile::reset() noexcept {
  if (address_ != nullptr) ::munmap(address_, size_);
  address_ = nullptr;
  size_ = 0;
}

bool is_no_space(const base::Status& status) noexcept {
  return !status.is_ok() && (status.error_number() == ENOSPC || status.error_number() == EDQUOT);
}

bool is_locked(const base::Status& status) noexcept {
  return !status.is_ok() && (status.error_number() == EWOULDBLOCK || status.error_number() == EAGAIN);
}

Result<std::unique_ptr<AppendFile>> PosixFileSystem::open_append(const std::string& path) noexcept {
  base::UniqueFd fd(retry_eintr([&] { return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600); }));
  if (!fd) return errno_status("open", path, errno);
  std::unique_ptr<AppendFile> file;
  try {
    file = std::make_unique<PosixAppendFile>(path, std::move(fd));
  } catch (const std::exception&) {
    return out_of_memory("open", path);
  }
  return file;
}

Result<std::string> PosixFileSystem::read_file(const std::string& path) noexcept {
  const base::UniqueFd fd(retry_eintr([&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC); }));
  if (!fd) return errno_status("open", path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) < 0) return errno_status("fstat", path, errno);
  std::string contents;
  std::size_t filled = 0;
  try {
    // One more byte than the size, so that the read that finds the end needs no growth.
    contents.resize(static_cast<std::size_t>(st.st_size) + 1);
    for (;;) {
      if (filled == contents.size()) contents.resize(contents.size() * 2);  // the file grew meanwhile
      const ssize_t got =
          retry_eintr([&] { return ::read(fd.get(), contents.data() + filled, contents.size() - filled); });
      if (got < 0) return errno_status("read", path, errno);
      if (got == 0) break;
      filled += static_cast<std::size_t>(got);
    }
  } catch (const std::exception&) {
    return out_of_memory("read", path);
  }
  contents.resize(filled);
  return contents;
}

Result<std::size_t> PosixFileSystem::read_at(const std::string& path, std::uint64_t offset,
                                             std::span<char> out) noexcept {
  const base::UniqueFd fd(retry_eintr([&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC); }));
  if (!fd) return errno_status("open", path, errno);
  std::size_t filled = 0;
  while (filled < out.size()) {
    const ssize_t got = retry_eintr([&] {
      return ::pread(fd.get(), out.data() + filled, out.size() - filled, static_cast<off_t>(offset + filled));
    });
    if (got < 0) return errno_status("pread", path, errno);
    if (got == 0) break;
    filled += static_cast<std::size_t>(got);
  }
  return filled;
}

Result<std::uint64_t> PosixFileSystem::file_size(const std::string& path) noexcept {
  struct stat st {};
  if (::stat(path.c_str(), &st) < 0) return errno_status("stat", path, errno);
  return static_cast<std::uint64_t>(st.st_size);
}

Status PosixFileSystem::truncate(const std::string& path, std::uint64_t size) noexcept {
  if (retry_eintr([&] { return ::truncate(path.c_str(), static_cast<off_t>(size)); }) < 0) {
    return errno_status("truncate", path, errno);
  }
  return Status::ok();
}

Status PosixFileSystem::rename(const std::string& from, const std::string& to) noexcept {
  if (::rename(from.c_str(), to.c_str()) < 0) {
    const int error_number = errno;  // before building the message allocates
    return errno_status("rename", from + " to " + to, error_number);
  }
  return Status::ok();
}

Status PosixFileSystem::unlink(const std::string& path) noexcept {
  if (::unlink(path.c_str()) < 0) return errno_status("unlink", path, errno);
  return Status::ok();
}

Status PosixFileSystem::create_directory(const std::string& path) noexcept {
  if (::mkdir(path.c_str(), 0700) == 0) return Status::ok();
  const int error_number = errno;
  struct stat st {};
  if (error_number == EEXIST && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return Status::ok();
  return errno_status("mkdir", path, error_number);
}

Result<std::vector<std::string>> PosixFileSystem::list_directory(const std::string& path) noexcept {
  const std::unique_ptr<DIR, DirCloser> dir(::opendir(path.c_str()));
  if (!dir) return errno_status("opendir", path, errno);
  std::vector<std::string> names;
  try {
    for (;;) {
      errno = 0;
      const dirent* entry = ::readdir(dir.get());
      if (entry == nullptr) {
        if (errno != 0) return errno_status("readdir", path, errno);
        break;
      }
      const std::string_view name(entry->d_name);
      if (name != "." && name != "..") names.emplace_back(name);
    }
    std::sort(names.begin(), names.end());
  } catch (const std::exception&) {
    return out_of_memory("readdir", path);
  }
  return names;
}

Status PosixFileSystem::sync_directory(const std::string& path) noexcept {
  const base::UniqueFd fd(retry_eintr([&] { return ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); }));
  if (!fd) return errno_status("open", path, errno);
  if (retry_eintr([&] { return ::fsync(fd.get()); }) < 0) return errno_status("fsync", path, errno);
  return Status::ok();
}

Result<FileLock> PosixFileSystem::lock_file(const std::string& path) noexcept {
  base::UniqueFd fd(retry_eintr([&] { return ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600); }));
  if (!fd) return errno_status("open", path, errno);
  if (retry_eintr([&] { return ::flock(fd.get(), LOCK_EX | LOCK_NB); }) < 0) {
    const int error_number = errno;
    if (error_number == EWOULDBLOCK) {
      return Status::error(path + " is locked by another open file (another storage_api using the directory?)",
                           error_number);
    }
    return errno_status("flock", path, error_number);
  }
  return FileLock(std::move(fd));
}

Result<MappedFile> PosixFileSystem::map_file(const std::string& path) noexcept {
  const base::UniqueFd fd(retry_eintr([&] { return ::open(path.c_str(), O_RDONLY | O_CLOEXEC); }));
  if (!fd) return errno_status("open", path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) < 0) return errno_status("fstat", path, errno);
  if (st.st_size == 0) return MappedFile();  // mmap refuses a length of 0
  const auto size = static_cast<std::size_t>(st.st_size);
  void* address = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (address == MAP_FAILED) return errno_status("mmap", path, errno);
  (void)::madvise(address, size, MADV_SEQUENTIAL);  // advice: read-ahead, and pages dropped once passed
  return MappedFile(address, size);
}

}  // namespace durable
