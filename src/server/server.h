#pragma once
// Server: N event-loop threads serving HTTP/1.1, each with its own SO_REUSEPORT listener, connections,
// timers and Handler, so threads share nothing on the request path but the store, the metrics and the
// memory budgets (all built for that). The server is the only place that performs socket system calls;
// what a connection does next is decided by its http::Connection.
//
// Slots nobody can hoard: beyond max_connections, beyond max_connections_per_client from one address, or
// when the connection memory budget cannot take one more connection's worst case (its state plus the
// kernel socket buffers it may fill), a new connection is accepted and closed at once; so it is when the
// process runs out of file descriptors (a spare descriptor is kept for exactly that). The accept loop
// never spins. An optional admin listener (on loop 0) has its own allowance and memory account, so
// health checks and scrapes are answered however busy the main port is.
//
// drain() stops accepting, lets requests in progress finish (with Connection: close), closes idle
// connections, and ends the loops when none are left or the grace period is over.
//
// Loop 0 runs on the thread that calls run() (in the binary, the main thread), the others on threads of
// their own. With ServerOptions::signal_shutdown (and signal_reload), loop 0 also watches the shutdown
// (and reload) signals through a signalfd, so no thread has to wait for them.
#include <signal.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <thread>
#include <vector>

#include "base/memory_account.h"
#include "base/status.h"
#include "http/connection.h"
#include "http/handler.h"
#include "net/event_loop.h"
#include "net/listener.h"

namespace server {

// Shutdown on a signal: on the first of `signals` the server calls on_signal (on loop 0's thread), keeps
// serving for `delay` so that load balancers can stop sending (a further signal cuts the delay short), then
// drains with `grace`. The caller blocks `signals` in every thread before start().
struct SignalShutdown {
  sigset_t signals{};
  std::chrono::milliseconds delay{0};
  std::chrono::milliseconds grace{10000};
  std::function<void(int signal_number)> on_signal;
};

// Reload on a signal: each of `signals` calls on_reload on loop 0's thread, and serving goes on (also
// while shutting down). The caller blocks `signals` in every thread before start(); a signal in both sets
// is a reload signal.
struct SignalReload {
  sigset_t signals{};
  std::function<void()> on_reload;
};

enum class ListenerKind : std::uint8_t { kData, kAdmin };

// Why a connection was closed at accept.
enum class Rejection : std::uint8_t {
  kConnectionLimit,    // max_connections open
  kClientLimit,        // max_connections_per_client open from that address
  kConnectionMemory,   // the connection memory budget cannot take another connection
  kOutOfDescriptors,   // EMFILE/ENFILE
  kAdminLimit,         // the admin listener's allowance (or its memory) is used up
};
inline constexpr std::size_t kRejectionCount = 5;

struct ServerOptions {
  net::SocketAddress address;
  std::optional<net::SocketAddress> admin_address;
  unsigned threads = 1;
  std::size_t max_connections = 10000;
  std::size_t max_connections_per_client = 0;  // 0: no cap
  std::size_t admin_max_connections = 16;
  http::ConnectionConfig connection;  // accounts.bodies shared by both listeners; buffers set per listener
  int socket_buffer_bytes = 0;        // SO_SNDBUF/SO_RCVBUF of client sockets; 0: kernel autotuning
  // Charged per open connection, at accept, to its listener's account (state and kernel socket buffers).
  std::size_t connection_cost_bytes = 0;
  base::MemoryAccount* connection_memory = nullptr;  // the data listener's connections
  base::MemoryAccount* admin_memory = nullptr;       // the admin listener's connections
  std::optional<SignalShutdown> signal_shutdown;
  std::optional<SignalReload> signal_reload;
};

// What one open connection costs before its buffers grow: its state here, plus what the kernel keeps for
// any socket (socket, file, epoll item). Its buffers are charged as they grow, its socket buffers by the
// caller (ServerOptions::connection_cost_bytes).
std::size_t connection_state_bytes() noexcept;

// Notable events for the log: a name and an errno value (0 when none).
using ServerEventSink = std::function<void(std::string_view event, int error_number)>;
using HandlerFactory =
    std::function<std::unique_ptr<http::Handler>(unsigned loop_index, ListenerKind kind, net::EventLoop& loop)>;

class Worker;

class Server {
 public:
  Server(ServerOptions options, HandlerFactory make_handler, ServerEventSink events);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every listener and starts the threads of loops 1..threads-1.
  base::Status start();
  std::uint16_t port() const noexcept { return port_; }
  std::uint16_t admin_port() const noexcept { return admin_port_; }

  // Runs loop 0 on the calling thread until the server has drained, then joins the other loops' threads.
  void run();
  void drain(std::chrono::milliseconds grace);  // any thread; returns at once

  std::size_t open_connections() const noexcept { return open_[0].load(std::memory_order_relaxed); }
  std::size_t open_admin_connections() const noexcept { return open_[1].load(std::memory_order_relaxed); }
  std::uint64_t rejected(Rejection why) const noexcept {
    return rejected_[static_cast<std::size_t>(why)].load(std::memory_order_relaxed);
  }
  std::uint64_t rejected_connections() const noexcept;  // all reasons

 private:
  friend class Worker;
  class SignalWatcher;

  void join_threads();
  void count_rejection(Rejection why) noexcept {
    rejected_[static_cast<std::size_t>(why)].fetch_add(1, std::memory_order_relaxed);
  }

  ServerOptions options_;
  HandlerFactory make_handler_;
  ServerEventSink events_;
  std::uint16_t port_ = 0;
  std::uint16_t admin_port_ = 0;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::unique_ptr<SignalWatcher> signal_watcher_;
  std::unique_ptr<class ClientLimiter> limiter_;
  std::array<std::atomic<std::size_t>, 2> open_{};  // by ListenerKind
  std::array<std::atomic<std::uint64_t>, kRejectionCount> rejected_{};
};

}  // namespace server
