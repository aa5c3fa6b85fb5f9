#include "base/read_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "base/unique_fd.h"

namespace base {

Result<std::size_t> read_whole_file(const char* path, std::span<char> buffer) {
  const UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) return Status::from_errno(std::string("open ") + path, errno);
  std::size_t filled = 0;
  while (filled < buffer.size()) {
    const ssize_t got = ::read(fd.get(), buffer.data() + filled, buffer.size() - filled);
    if (got < 0) {
      if (errno == EINTR) continue;
      return Status::from_errno(std::string("read ") + path, errno);
    }
    if (got == 0) return filled;
    filled += static_cast<std::size_t>(got);
  }
  return Status::error(std::string(path) + ": larger than " + std::to_string(buffer.size()) + " bytes");
}

}  // namespace base
