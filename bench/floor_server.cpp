// floor_server: the least an HTTP/1.1 server over epoll can do, as the floor the real servers are measured
// against. One thread, level-triggered epoll, one read per readiness event; every "\r\n\r\n" in the byte
// stream is answered with the same fixed 200 response, whatever the request was. With "close" it adds
// Connection: close and closes after answering, for the Connection: close scenario.
//
//   floor_server PORT [close]      (listens on 127.0.0.1 only)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace {

// The same header set and body size storage_api sends for a 16-byte bucket, so both write as many bytes.
constexpr std::string_view kKeepAliveResponse =
    "HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Type: application/octet-stream\r\n"
    "Content-Length: 16\r\n\r\n0123456789abcdef";
constexpr std::string_view kCloseResponse =
    "HTTP/1.1 200 OK\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nContent-Type: application/octet-stream\r\n"
    "Content-Length: 16\r\nConnection: close\r\n\r\n0123456789abcdef";
constexpr std::string_view kHeadEnd = "\r\n\r\n";

struct Peer {
  std::size_t matched = 0;  // bytes of "\r\n\r\n" seen at the end of the previous read
  std::string pending;      // answers the socket did not take yet
  bool watching_output = false;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  const bool close_after_answer = argc > 2 && std::string_view(argv[2]) == "close";
  const std::string_view answer = close_after_answer ? kCloseResponse : kKeepAliveResponse;
  std::signal(SIGPIPE, SIG_IGN);

  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  const int on = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(std::atoi(argv[1])));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listener, SOMAXCONN) != 0) {
    return 1;
  }
  const int epoll = ::epoll_create1(0);
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = listener;
  ::epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event);

  std::vector<Peer> peers;
  epoll_event ready[256];
  char chunk[16 * 1024];
  for (;;) {
    const int count = ::epoll_wait(epoll, ready, 256, -1);
    for (int i = 0; i < count; ++i) {
      const int fd = ready[i].data.fd;
      if (fd == listener) {
        for (int client; (client = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK)) >= 0;) {
          ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
          if (peers.size() <= static_cast<std::size_t>(client)) peers.resize(static_cast<std::size_t>(client) + 1);
          peers[static_cast<std::size_t>(client)] = Peer{};
          event.events = EPOLLIN;
          event.data.fd = client;
          ::epoll_ctl(epoll, EPOLL_CTL_ADD, client, &event);
        }
        continue;
      }
      Peer& peer = peers[static_cast<std::size_t>(fd)];
      bool done = false;
      if (ready[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        const ssize_t n = ::read(fd, chunk, sizeof chunk);
        done = n == 0 || (n < 0 && errno != EAGAIN);
        for (ssize_t at = 0; at < n; ++at) {
          peer.matched = chunk[at] == kHeadEnd[peer.matched] ? peer.matched + 1 : (chunk[at] == '\r' ? 1 : 0);
          if (peer.matched == kHeadEnd.size()) {
            peer.pending.append(answer);
            peer.matched = 0;
          }
        }
      }
      if (!done && !peer.pending.empty()) {
        const ssize_t n = ::send(fd, peer.pending.data(), peer.pending.size(), MSG_NOSIGNAL);
        if (n > 0) peer.pending.erase(0, static_cast<std::size_t>(n));
        done = (n < 0 && errno != EAGAIN) || (close_after_answer && peer.pending.empty());
        // Ask for writability only while answers wait, and touch the epoll set only when that changes.
        const bool wants_output = !peer.pending.empty();
        if (!done && wants_output != peer.watching_output) {
          event.events = wants_output ? EPOLLIN | EPOLLOUT : EPOLLIN;
          event.data.fd = fd;
          ::epoll_ctl(epoll, EPOLL_CTL_MOD, fd, &event);
          peer.watching_output = wants_output;
        }
      }
      if (done) ::close(fd);  // close() also removes fd from the epoll set
    }
  }
}
