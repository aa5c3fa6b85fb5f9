#include "app/healthcheck.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "net/listener.h"
#include "base/unique_fd.h"

namespace app {

namespace {

using Clock = std::chrono::steady_clock;

// A wildcard bind address is reached through loopback of the same family.
std::string probe_host(const std::string& host) {
  if (host == "0.0.0.0") return "127.0.0.1";
  if (host == "::" || host == "[::]") return "::1";
  return host;
}

bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

}  // namespace

int run_healthcheck(const Config& config, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  // With an admin listener the health check uses it: it answers however busy the data port is.
  const auto address = net::parse_address(probe_host(config.host), config.admin_port.value_or(config.port));
  if (!address) return 1;
  base::UniqueFd fd(::socket(address->storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return 1;
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address->storage), address->length) != 0) {
    if (errno != EINPROGRESS || !wait_for(fd.get(), POLLOUT, deadline)) return 1;
    int error = 0;
    socklen_t length = sizeof error;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0) return 1;
  }
  constexpr std::string_view kRequest = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  std::size_t sent = 0;
  while (sent < kRequest.size()) {
    const ssize_t n = ::send(fd.get(), kRequest.data() + sent, kRequest.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_for(fd.get(), POLLOUT, deadline)) return 1;
    } else {
      return 1;
    }
  }
  constexpr std::string_view kExpected = "HTTP/1.1 200 ";
  char reply[64];
  std::size_t received = 0;
  while (received < kExpected.size()) {
    const ssize_t n = ::recv(fd.get(), reply + received, sizeof reply - received, 0);
    if (n > 0) {
      received += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_for(fd.get(), POLLIN, deadline)) return 1;
    } else {
      return 1;
    }
  }
  return std::string_view(reply, kExpected.size()) == kExpected ? 0 : 1;
}

}  // namespace app
