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

// A non-blocking listening socket. An IPv6 wildcard ("::") also accepts IPv4.
base::Result<base::UniqueFd> listen_tcp(const SocketAddress& address, int backlog);

std::uint16_t bound_port(int fd) noexcept;

}  // namespace net
