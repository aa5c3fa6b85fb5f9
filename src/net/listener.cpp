#include "net/listener.h"

#include <arpa/inet.h>

#include <cerrno>
#include <cstring>

namespace net {

std::optional<SocketAddress> parse_address(std::string_view host, std::uint16_t port) noexcept {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  char text[INET6_ADDRSTRLEN + 1];
  if (host.size() >= sizeof text) return std::nullopt;
  std::memcpy(text, host.data(), host.size());
  text[host.size()] = '\0';

  SocketAddress address;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage);
  if (::inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    address.length = sizeof(sockaddr_in);
    return address;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address.storage);
  if (::inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    address.length = sizeof(sockaddr_in6);
    return address;
  }
  return std::nullopt;
}

base::Result<base::UniqueFd> listen_tcp(const SocketAddress& address, const ListenOptions& options) {
  const int family = address.storage.ss_family;
  base::UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    return base::Status::from_errno("socket", errno);
  }
  const int on = 1;
  const int off = 0;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
    return base::Status::from_errno("setsockopt(SO_REUSEPORT)", errno);
  }
  if (family == AF_INET6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  if (options.socket_buffer_bytes > 0) {
    const int bytes = options.socket_buffer_bytes;
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes) != 0 ||
        ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes) != 0) {
      return base::Status::from_errno("setsockopt(SO_SNDBUF/SO_RCVBUF)", errno);
    }
  }
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address.storage), address.length) != 0) {
    return base::Status::from_errno("bind", errno);
  }
  if (::listen(fd.get(), options.backlog) != 0) {
    return base::Status::from_errno("listen", errno);
  }
  return fd;
}

SocketAddress ipv4_wildcard(std::uint16_t port) noexcept {
  SocketAddress address;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage);
  v4->sin_family = AF_INET;
  v4->sin_port = htons(port);
  v4->sin_addr.s_addr = htonl(INADDR_ANY);
  address.length = sizeof(sockaddr_in);
  return address;
}

bool is_ipv6_wildcard(const SocketAddress& address) noexcept {
  if (address.storage.ss_family != AF_INET6) return false;
  const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address.storage);
  return IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr);
}

bool ipv6_usable() noexcept {
  const base::UniqueFd fd(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  sockaddr_in6 loopback{};
  loopback.sin6_family = AF_INET6;
  loopback.sin6_addr = in6addr_loopback;
  return ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&loopback), sizeof loopback) == 0;
}

std::uint16_t bound_port(int fd) noexcept {
  sockaddr_storage storage{};
  socklen_t length = sizeof storage;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return 0;
  if (storage.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
  if (storage.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port);
  return 0;
}

}  // namespace net
