// unread_clients: many connections that each ask for a response and never read it, so the server has to
// hold every answer at once.
//
//   unread_clients [--connections N] [--rcvbuf BYTES] [--hold SECONDS] PORT PATH
//
// Opens N (default 1000) TCP connections to 127.0.0.1:PORT, one after another, each with SO_RCVBUF set
// before connect (default 4096; the window the client advertises stays that small), and writes
// "GET PATH HTTP/1.1" on each; then it never reads. Once every request is written it prints
// "sent <N>" and holds the connections until SIGTERM or SIGINT, or for at most --hold seconds (default 60).
// On the way out it prints "held <open> open, <bytes> bytes unread" — connections without an error or a
// hang-up from the server, and what the kernel had received for them — and closes them (closing with
// unread data resets the connection, so the server is not left sending to nobody). Exits 1 if a
// connection or a request fails, 2 on bad usage.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/unique_fd.h"

namespace {

struct Options {
  long connections = 1000;
  int rcvbuf = 4096;
  long hold_seconds = 60;
  std::uint16_t port = 0;
  std::string path;
};

std::optional<Options> parse_options(int argc, char** argv) {
  Options options;
  std::vector<std::string_view> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.starts_with("--")) {
      if (i + 1 >= argc) return std::nullopt;
      const long value = std::strtol(argv[++i], nullptr, 10);
      if (arg == "--connections") options.connections = value;
      else if (arg == "--rcvbuf") options.rcvbuf = static_cast<int>(value);
      else if (arg == "--hold") options.hold_seconds = value;
      else return std::nullopt;
    } else {
      positional.push_back(arg);
    }
  }
  if (positional.size() != 2 || options.connections < 1 || options.rcvbuf < 0 || options.hold_seconds < 1) {
    return std::nullopt;
  }
  const long port = std::strtol(std::string(positional[0]).c_str(), nullptr, 10);
  if (port < 1 || port > 65535 || !positional[1].starts_with('/')) return std::nullopt;
  options.port = static_cast<std::uint16_t>(port);
  options.path = positional[1];
  return options;
}

// Room for N descriptors: the soft limit raised towards the hard one when it is too low.
bool ensure_descriptors(long connections) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
  const rlim_t wanted = static_cast<rlim_t>(connections) + 16;
  if (limit.rlim_cur >= wanted) return true;
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < wanted) return false;
  limit.rlim_cur = wanted;
  return ::setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

base::UniqueFd open_and_ask(const Options& options, std::string_view request) {
  base::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fd;
  // Before connect: the window scale is fixed by the SYN, so a later change could not shrink the window.
  if (options.rcvbuf > 0) ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &options.rcvbuf, sizeof options.rcvbuf);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(options.port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) return {};
  // A few dozen bytes into an empty send buffer: one send writes them all, or the connection is broken.
  if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
    return {};
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<Options> options = parse_options(argc, argv);
  if (!options) {
    std::fprintf(stderr, "usage: unread_clients [--connections N] [--rcvbuf BYTES] [--hold SECONDS] PORT PATH\n");
    return 2;
  }
  if (!ensure_descriptors(options->connections)) {
    std::fprintf(stderr, "unread_clients: cannot have %ld descriptors open (RLIMIT_NOFILE)\n", options->connections);
    return 1;
  }
  // Blocked before anything else, so a stop request that comes early waits in sigtimedwait below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  ::sigprocmask(SIG_BLOCK, &stop_signals, nullptr);

  const std::string request = "GET " + options->path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  std::vector<base::UniqueFd> connections;
  connections.reserve(static_cast<std::size_t>(options->connections));
  for (long i = 0; i < options->connections; ++i) {
    base::UniqueFd fd = open_and_ask(*options, request);
    if (!fd) {
      std::fprintf(stderr, "unread_clients: connection %ld of %ld failed: %s\n", i + 1, options->connections,
                   std::strerror(errno));
      return 1;
    }
    connections.push_back(std::move(fd));
  }
  std::printf("sent %zu\n", connections.size());
  std::fflush(stdout);

  const timespec hold{options->hold_seconds, 0};
  while (::sigtimedwait(&stop_signals, nullptr, &hold) < 0 && errno == EINTR) {
  }

  long open = 0;
  long long unread = 0;
  for (const base::UniqueFd& fd : connections) {
    pollfd state{fd.get(), POLLRDHUP, 0};
    int error = 0;
    socklen_t length = sizeof error;
    ::poll(&state, 1, 0);
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length);
    if (error == 0 && (state.revents & (POLLRDHUP | POLLHUP | POLLERR)) == 0) ++open;
    int queued = 0;
    if (::ioctl(fd.get(), FIONREAD, &queued) == 0) unread += queued;
  }
  std::printf("held %ld open, %lld bytes unread\n", open, unread);
  return 0;
}
