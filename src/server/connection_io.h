#pragma once
// ConnectionIo: the socket side of one client connection. It performs the reads and writes and carries
// out what the connection's directive says — epoll interest, half-close, close, abortive close — and
// nothing else: every protocol and timing decision is http::Connection's. Reads go into the worker's
// shared read buffer (or straight into a body), so an idle or trickling connection holds only the bytes
// it has actually sent; writes gather the connection's queued output into one sendmsg.
#include <sys/types.h>

#include <cstdint>
#include <list>
#include <memory>
#include <optional>

#include "base/memory_account.h"
#include "base/unique_fd.h"
#include "http/connection.h"
#include "net/event_loop.h"
#include "server/client_limiter.h"
#include "server/server.h"

namespace server {

class Worker;

class ConnectionIo final : public net::IoHandler {
 public:
  using Clock = net::EventLoop::Clock;

  ConnectionIo(Worker& worker, base::UniqueFd fd, ListenerKind kind, ClientKey client, base::MemoryReservation charge,
               const http::ConnectionConfig& config, http::Handler& handler, Clock::time_point now) noexcept;

  void on_io(std::uint32_t events) noexcept override;
  // Lets the connection act now (a deadline passed, a deferred answer came, shutdown began). `known` is a
  // directive just returned by advance() with no event reported since.
  void pump(Clock::time_point now, std::optional<http::Connection::Directive> known = std::nullopt) noexcept;

  int fd() const noexcept { return fd_.get(); }
  // Closes the socket now (with a reset when abortive); the object itself is destroyed by the worker later.
  void close_socket(bool abortive) noexcept;
  std::uint32_t registered_events() const noexcept { return registered_; }
  Clock::time_point deadline() const noexcept { return deadline_; }
  ListenerKind kind() const noexcept { return kind_; }
  const ClientKey& client() const noexcept { return client_; }
  http::Connection& connection() noexcept { return conn_; }

  // Worker bookkeeping.
  std::list<std::unique_ptr<ConnectionIo>>::iterator self;
  bool scheduled = false;

 private:
  enum class WriteOutcome { kProgress, kBlocked, kFailed };

  // The directive of the last advance() after a read, unless something was reported since.
  std::optional<http::Connection::Directive> read_some(Clock::time_point now) noexcept;
  WriteOutcome write_some() noexcept;
  // What a write's result means for the connection; nullopt: interrupted, write again.
  std::optional<WriteOutcome> after_write(ssize_t n) noexcept;
  // False when the connection was closed.
  bool carry_out(const http::Connection::Directive& directive) noexcept;

  Worker& worker_;
  base::UniqueFd fd_;
  ListenerKind kind_;
  ClientKey client_;
  base::MemoryReservation charge_;  // this connection's share of its listener's memory budget
  http::Connection conn_;
  std::uint32_t registered_;
  Clock::time_point deadline_ = Clock::time_point::max();
  bool write_blocked_ = false;
  bool write_shut_ = false;
  bool failed_ = false;  // the socket reported an error: close without further ado
};

}  // namespace server
