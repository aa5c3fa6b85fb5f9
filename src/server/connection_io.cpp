#include "server/connection_io.h"

#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <optional>

#include "server/worker.h"

namespace server {

namespace {
constexpr int kReadsPerEvent = 4;  // fairness: one busy client cannot starve the others of a loop
constexpr std::size_t kWriteIovecs = 16;
constexpr std::uint32_t kReadEvents = EPOLLIN | EPOLLRDHUP;
}  // namespace

std::size_t connection_state_bytes() noexcept {
  // struct sock + tcp_sock, struct file, the epoll item and the dentry behind the descriptor: measured as
  // about 2.5 KiB on Linux 5.x/6.x; rounded up, with the list node and the per-client counter entry.
  constexpr std::size_t kKernelPerSocketBytes = 3072;
  constexpr std::size_t kBookkeepingBytes = 256;
  return sizeof(ConnectionIo) + kKernelPerSocketBytes + kBookkeepingBytes;
}

ConnectionIo::ConnectionIo(Worker& worker, base::UniqueFd fd, ListenerKind kind, ClientKey client,
                           base::MemoryReservation charge, const http::ConnectionConfig& config,
                           http::Handler& handler, Clock::time_point now) noexcept
    : worker_(worker),
      fd_(std::move(fd)),
      kind_(kind),
      client_(client),
      charge_(std::move(charge)),
      conn_(config, handler, worker.dates(), now),
      registered_(kReadEvents) {
  conn_.set_wake([this] { worker_.schedule(*this); });
}

void ConnectionIo::on_io(std::uint32_t events) noexcept {
  const auto now = worker_.loop().now();
  worker_.refresh_date();
  // A socket error, or a hang-up while not reading (the connection cannot deliver anything more and would
  // otherwise be woken for it forever): there is nothing left to do but close.
  if ((events & EPOLLERR) || ((events & EPOLLHUP) && !(registered_ & EPOLLIN))) {
    worker_.close(*this, false);
    return;
  }
  if (events & EPOLLOUT) write_blocked_ = false;
  std::optional<http::Connection::Directive> known;
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) && (registered_ & EPOLLIN)) {
    known = read_some(now);
    if (failed_) {
      worker_.close(*this, false);
      return;
    }
  }
  pump(now, known);
}

std::optional<http::Connection::Directive> ConnectionIo::read_some(Clock::time_point now) noexcept {
  std::optional<http::Connection::Directive> last;
  for (int i = 0; i < kReadsPerEvent; ++i) {
    std::span<char> target = conn_.direct_input();
    const bool direct = !target.empty();
    if (!direct) target = worker_.read_buffer();
    const ssize_t n = ::read(fd_.get(), target.data(), target.size());
    if (n > 0) {
      const auto got = static_cast<std::size_t>(n);
      if (direct) {
        conn_.on_received_direct(got);
      } else {
        conn_.on_received(std::string_view(target.data(), got));
      }
      // The read buffer is shared by the loop's connections: the connection takes the bytes before the next read.
      last = conn_.advance(now);
      if (!last->read || last->action != http::SocketAction::kKeep || got < target.size()) return last;
      continue;
    }
    if (n == 0) {
      conn_.on_peer_closed();
      return std::nullopt;  // the connection has news the last directive does not reflect
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) failed_ = true;
    return last;
  }
  return last;
}

ConnectionIo::WriteOutcome ConnectionIo::write_some() noexcept {
  // A stored value in a memory file goes from its pages by sendfile() (SIGPIPE is ignored by main, as
  // sendfile has no MSG_NOSIGNAL); what precedes it, usually the head, is sent with MSG_MORE so that it
  // shares a segment with the body's first bytes.
  if (const std::optional<http::OutputQueue::FileSlice> file = conn_.file_output()) {
    for (;;) {
      off_t offset = static_cast<off_t>(file->offset);
      const ssize_t n = ::sendfile(fd_.get(), file->fd, &offset, file->length);
      if (const std::optional<WriteOutcome> outcome = after_write(n)) return *outcome;
    }
  }
  std::array<iovec, kWriteIovecs> iov;
  bool file_follows = false;
  const std::size_t count = conn_.gather_output(iov, &file_follows);
  if (count == 0) return WriteOutcome::kBlocked;
  msghdr message{};
  message.msg_iov = iov.data();
  message.msg_iovlen = count;
  const int flags = MSG_NOSIGNAL | MSG_DONTWAIT | (file_follows ? MSG_MORE : 0);
  for (;;) {
    const ssize_t n = ::sendmsg(fd_.get(), &message, flags);
    if (const std::optional<WriteOutcome> outcome = after_write(n)) return *outcome;
  }
}

std::optional<ConnectionIo::WriteOutcome> ConnectionIo::after_write(ssize_t n) noexcept {
  if (n > 0) {
    conn_.on_written(static_cast<std::size_t>(n));
    return WriteOutcome::kProgress;
  }
  if (n < 0 && errno == EINTR) return std::nullopt;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    conn_.on_write_blocked();
    write_blocked_ = true;
    return WriteOutcome::kBlocked;
  }
  return WriteOutcome::kFailed;
}

void ConnectionIo::pump(Clock::time_point now, std::optional<http::Connection::Directive> known) noexcept {
  if (!fd_) return;  // closed, waiting to be destroyed
  // Terminates: each round either writes bytes, which the kernel's buffer bounds, or returns.
  for (;;) {
    // A directive the read just got, with nothing reported since, need not be asked for again.
    const http::Connection::Directive directive = known ? *known : conn_.advance(now);
    known.reset();
    if (!carry_out(directive)) return;
    if (directive.write && !write_blocked_) {
      if (write_some() == WriteOutcome::kFailed) {
        worker_.close(*this, false);
        return;
      }
      // Ask again either way: drained output may let the connection go on, and a write that would block
      // starts the write timeout, which the next directive's deadline must include.
      continue;
    }
    std::uint32_t wanted = directive.read ? kReadEvents : 0;
    if (directive.write && write_blocked_) wanted |= EPOLLOUT;
    if (wanted != registered_) {
      worker_.loop().modify(fd_.get(), wanted, this);
      registered_ = wanted;
    }
    deadline_ = directive.deadline;
    return;
  }
}

void ConnectionIo::close_socket(bool abortive) noexcept {
  if (!fd_) return;
  if (abortive) {
    // A plain close would leave the unsent bytes with the kernel, probing a zero window for minutes on
    // behalf of a peer that stopped reading.
    const linger abort_on_close{1, 0};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
  }
  fd_.reset();  // closing the only descriptor of the socket also takes it out of the epoll set
  conn_.set_wake(nullptr);  // a deferred answer completed from now on has nowhere to go
}

bool ConnectionIo::carry_out(const http::Connection::Directive& directive) noexcept {
  switch (directive.action) {
    case http::SocketAction::kKeep:
      return true;
    case http::SocketAction::kShutdownWrite:
      if (!write_shut_) {
        ::shutdown(fd_.get(), SHUT_WR);
        write_shut_ = true;
      }
      return true;
    case http::SocketAction::kClose:
      worker_.close(*this, false);
      return false;
    case http::SocketAction::kAbort:
      worker_.close(*this, true);
      return false;
  }
  return true;
}

}  // namespace server
