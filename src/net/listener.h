#pragma once
// Listening sockets: parse a numeric bind address, create a non-blocking TCP listener with SO_REUSEPORT
// (each event loop owns one listener on the same port and the kernel spreads connections across them), and
// read back the bound port (needed when the configured port is 0).
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "base/unique_fd.h"

namespace net {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;
};

// IPv4 or IPv6 literal (brackets allowed around IPv6) plus port; nullopt when not numeric.
std::optional<SocketAddress> parse_address(std::string_view host, std::uint16_t port) noexcept;

struct ListenOptions {
  int backlog = SOMAXCONN;
  // SO_SNDBUF and SO_RCVBUF for every accepted socket (inherited from the listener, set before listen()
  // so the receive window is scaled for it); 0 leaves the kernel's autotuning.
  int socket_buffer_bytes = 0;
};

// A non-blocking listening socket. An IPv6 wildcard ("::") also accepts IPv4.
base::Result<base::UniqueFd> listen_tcp(const SocketAddress& address, const ListenOptions& options);

// The IPv4 wildcard on the same port: where "::" falls back to on a host without IPv6.
SocketAddress ipv4_wildcard(std::uint16_t port) noexcept;
bool is_ipv6_wildcard(const SocketAddress& address) noexcept;
// Whether this host has working IPv6 (a socket can be bound to [::1]). With IPv6 disabled by sysctl, "::"
// still binds, but then serves IPv4 alone.
bool ipv6_usable() noexcept;

std::uint16_t bound_port(int fd) noexcept;

}  // namespace net
