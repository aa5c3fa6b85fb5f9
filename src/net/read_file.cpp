#include "net/read_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "net/unique_fd.h"

namespace net {

std::optional<std::size_t> read_whole_file(const char* path, std::span<char> buffer) noexcept {
  const UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  std::size_t filled = 0;
  while (filled < buffer.size()) {
    const ssize_t got = ::read(fd.get(), buffer.data() + filled, buffer.size() - filled);
    if (got < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    if (got == 0) return filled;
    filled += static_cast<std::size_t>(got);
  }
  return std::nullopt;
}

}  // namespace net
