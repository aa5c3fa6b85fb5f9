#pragma once
// Server: N event-loop threads serving HTTP/1.1 connections, each thread with its own SO_REUSEPORT listener,
// connections, timers and Handler, so threads share nothing on the request path but the store and the
// metrics (both built for that).
//
// Per connection it moves bytes between the socket and an http::Connection and enforces the timeouts: the
// whole request head within header_timeout (408), no pause longer than body_timeout while a body arrives
// (408), idle keep-alive connections closed after idle_timeout, and a peer that stops reading cut off after
// write_timeout. After the last response of a closing connection it shuts down writing and drains what the
// peer still sends for a moment (lingering close), so an early refusal reaches a client that is still
// sending instead of being lost to a reset. Beyond max_connections, or when the process runs out of file
// descriptors, new connections are accepted and closed at once (a spare descriptor is kept for exactly
// that), so the accept loop never spins.
//
// drain() stops accepting, lets requests in progress finish (with Connection: close), closes idle
// connections, and ends the loops when none are left or the grace period is over.
//
// Loop 0 runs on the thread that calls run() (in the binary, the main thread), the others on threads of
// their own: a single-loop server starts no thread at all. With ServerOptions::signal_shutdown, loop 0 also
// watches the shutdown signals through a signalfd, so no thread has to wait for them.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/status.h"
#include "http/connection.h"
#include "http/handler.h"
#include "net/listener.h"

namespace net {

// Shutdown on a signal: on the first of `signals` the server calls on_signal (on loop 0's thread), keeps
// serving for `delay` so that load balancers can stop sending (a further signal cuts the delay short), then
// drains with `grace`. The caller blocks `signals` in every thread before start(), so that only the
// server's signalfd receives them.
struct SignalShutdown {
  sigset_t signals{};
  std::chrono::milliseconds delay{0};
  std::chrono::milliseconds grace{10000};
  std::function<void(int signal_number)> on_signal;
};

struct ServerOptions {
  SocketAddress address;
  unsigned threads = 1;
  std::size_t max_connections = 10000;
  http::ConnectionLimits limits;
  std::chrono::milliseconds header_timeout{10000};
  std::chrono::milliseconds body_timeout{30000};
  std::chrono::milliseconds idle_timeout{60000};
  std::chrono::milliseconds write_timeout{30000};
  std::chrono::milliseconds linger_timeout{2000};
  std::optional<SignalShutdown> signal_shutdown;
};

// Notable events for the log: a name and an errno value (0 when none).
using ServerEventSink = std::function<void(std::string_view event, int error_number)>;
using HandlerFactory = std::function<std::unique_ptr<http::Handler>(unsigned loop_index)>;

class Server {
 public:
  Server(ServerOptions options, HandlerFactory make_handler, ServerEventSink events);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every listener and starts the threads of loops 1..threads-1.
  base::Status start();
  std::uint16_t port() const noexcept { return port_; }

  // Runs loop 0 on the calling thread until the server has drained, then joins the other loops' threads.
  // Call once, after a successful start().
  void run();
  void drain(std::chrono::milliseconds grace);  // any thread; returns at once

  std::size_t open_connections() const noexcept { return open_connections_.load(std::memory_order_relaxed); }
  std::uint64_t rejected_connections() const noexcept { return rejected_.load(std::memory_order_relaxed); }

 private:
  class Worker;
  friend class Worker;
  class SignalWatcher;

  void join_threads();

  ServerOptions options_;
  HandlerFactory make_handler_;
  ServerEventSink events_;
  std::uint16_t port_ = 0;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::unique_ptr<SignalWatcher> signal_watcher_;
  std::atomic<std::size_t> open_connections_{0};
  std::atomic<std::uint64_t> rejected_{0};
};

}  // namespace net
