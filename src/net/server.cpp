#include "net/server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <list>

#include "net/event_loop.h"
#include "base/unique_fd.h"

namespace net {

namespace {

constexpr std::size_t kReadChunk = 16 * 1024;
constexpr int kReadsPerEvent = 4;     // fairness: one busy client cannot starve the others of a loop
constexpr int kAcceptsPerEvent = 64;
constexpr std::size_t kKeepBufferBytes = 64 * 1024;
constexpr auto kListenerPause = std::chrono::milliseconds(100);

// Spare descriptor given up to accept-and-close a connection when the process is out of descriptors.
base::UniqueFd make_spare_fd() { return base::UniqueFd(::eventfd(0, EFD_CLOEXEC)); }

std::chrono::milliseconds sweep_interval(const ServerOptions& o) {
  const auto shortest = std::min({o.header_timeout, o.body_timeout, o.idle_timeout, o.write_timeout, o.linger_timeout});
  return std::clamp(shortest / 4, std::chrono::milliseconds(5), std::chrono::milliseconds(250));
}

}  // namespace

class Server::Worker {
 public:
  Worker(Server& server, unsigned index, std::unique_ptr<EventLoop> loop, base::UniqueFd listener)
      : server_(server), options_(server.options_), handler_(server.make_handler_(index)),
        loop_(std::move(loop)), listener_(std::move(listener)), listener_io_(*this), spare_fd_(make_spare_fd()) {}

  ~Worker() {
    // Connections report abandoned requests to the handler, so they go first.
    connections_.clear();
  }

  base::Status arm() {
    if (!loop_->add(listener_.get(), EPOLLIN, &listener_io_)) return base::Status::from_errno("epoll_ctl(listener)", errno);
    loop_->run_every(sweep_interval(options_), [this] { sweep(); });
    return base::Status::ok();
  }

  void run() { loop_->run(); }
  EventLoop& loop() noexcept { return *loop_; }

  void drain(std::chrono::milliseconds grace) {
    loop_->post([this, grace] {
      draining_ = true;
      stop_listening();
      for (auto it = connections_.begin(); it != connections_.end();) {
        ConnectionIo& io = **it++;  // advance first: after_io may close (and unlink) it
        io.conn.begin_drain();
        io.after_io(loop_->now());
      }
      loop_->run_after(grace, [this] {
        server_.events_("shutdown_grace_expired", 0);
        while (!connections_.empty()) close(*connections_.front());
        loop_->stop();
      });
      stop_if_drained();
    });
  }

 private:
  struct ConnectionIo final : IoHandler {
    ConnectionIo(Worker& owner, base::UniqueFd socket, EventLoop::Clock::time_point now)
        : worker(owner), fd(std::move(socket)),
          conn(owner.options_.limits, *owner.handler_, owner.dates_), accepted_at(now), last_read(now),
          last_write(now) {}

    void on_io(std::uint32_t events) noexcept override {
      const auto now = worker.loop_->now();
      if (events & EPOLLERR) {
        worker.close(*this);
        return;
      }
      if (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) {
        if (!read_some(now)) return;
      }
      if (!flush(now)) return;
      after_io(now);
    }

    // False when the connection was closed.
    bool read_some(EventLoop::Clock::time_point now) {
      for (int i = 0; i < kReadsPerEvent; ++i) {
        if (lingering) {
          char sink[kReadChunk];
          const ssize_t n = ::read(fd.get(), sink, sizeof sink);
          if (n > 0) continue;
          if (n < 0 && (errno == EAGAIN || errno == EINTR)) return true;
          worker.close(*this);
          return false;
        }
        if (!conn.wants_input() || peer_closed) return true;
        std::span<char> space = conn.input().writable(kReadChunk);
        const ssize_t n = ::read(fd.get(), space.data(), space.size());
        if (n > 0) {
          conn.input().commit(static_cast<std::size_t>(n));
          last_read = now;
          conn.process(now);
          if (static_cast<std::size_t>(n) < space.size()) return true;  // drained the socket
          continue;
        }
        if (n == 0) {
          peer_closed = true;
          conn.on_peer_closed(now);
          return true;
        }
        if (errno == EAGAIN || errno == EINTR) return true;
        worker.close(*this);
        return false;
      }
      return true;
    }

    // Writes what is pending, resuming parsing of pipelined requests as the output drains. False when closed.
    bool flush(EventLoop::Clock::time_point now) {
      while (!conn.output().empty()) {
        const std::string_view pending = conn.output().readable();
        const ssize_t n = ::send(fd.get(), pending.data(), pending.size(), MSG_NOSIGNAL);
        if (n > 0) {
          conn.output().consume(static_cast<std::size_t>(n));
          last_write = now;
          write_blocked = false;
          if (conn.output().empty() && !conn.input().empty() && conn.wants_input()) conn.process(now);
          continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) {
          // The write timeout measures how long the peer has kept us blocked, not time since the last write.
          if (!write_blocked) {
            write_blocked = true;
            write_blocked_since = now;
          }
          return true;
        }
        worker.close(*this);
        return false;
      }
      last_write = now;
      return true;
    }

    void after_io(EventLoop::Clock::time_point now) {
      if (conn.should_close() && conn.output().empty() && !lingering) {
        // A clean close (the client asked for it, or shutdown) has nothing unread to protect the last
        // response from; only a refusal needs the half-close and drain.
        if (peer_closed || !conn.close_may_leave_unread_input()) {
          worker.close(*this);
          return;
        }
        ::shutdown(fd.get(), SHUT_WR);
        lingering = true;
        linger_until = now + worker.options_.linger_timeout;
      }
      if (!conn.output().empty() && conn.output().size() < kKeepBufferBytes) {
        // Parsing may have paused at the watermark; a partial write can have made room again.
        if (conn.wants_input() && !conn.input().empty()) conn.process(now);
      }
      if (conn.output().empty()) {
        conn.input().shrink_if_empty_and_larger_than(kKeepBufferBytes);
        conn.output().shrink_if_empty_and_larger_than(kKeepBufferBytes);
      }
      // Level-triggered: once the peer's half-close is seen, asking for EPOLLRDHUP again would spin.
      std::uint32_t wanted = peer_closed ? 0u : static_cast<std::uint32_t>(EPOLLRDHUP);
      if (lingering || (!peer_closed && conn.wants_input())) wanted |= EPOLLIN;
      if (!conn.output().empty()) wanted |= EPOLLOUT;
      if (wanted != registered) {
        worker.loop_->modify(fd.get(), wanted, this);
        registered = wanted;
      }
    }

    Worker& worker;
    base::UniqueFd fd;
    http::Connection conn;
    EventLoop::Clock::time_point accepted_at;
    EventLoop::Clock::time_point last_read;
    EventLoop::Clock::time_point last_write;
    EventLoop::Clock::time_point linger_until{};
    EventLoop::Clock::time_point write_blocked_since{};
    bool write_blocked = false;
    std::uint32_t registered = EPOLLIN | EPOLLRDHUP;
    bool peer_closed = false;
    bool lingering = false;
    std::list<std::unique_ptr<ConnectionIo>>::iterator self;
  };

  struct ListenerIo final : IoHandler {
    explicit ListenerIo(Worker& owner) noexcept : worker(owner) {}
    void on_io(std::uint32_t) noexcept override { worker.accept_ready(); }
    Worker& worker;
  };

  void accept_ready() {
    for (int i = 0; i < kAcceptsPerEvent && listener_; ++i) {
      base::UniqueFd socket(::accept4(listener_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!socket) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return;
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
        if (errno == EMFILE || errno == ENFILE) {
          shed_one_connection(errno);
          continue;
        }
        server_.events_("accept_failed", errno);
        return;
      }
      if (server_.open_connections_.load(std::memory_order_relaxed) >= options_.max_connections) {
        server_.rejected_.fetch_add(1, std::memory_order_relaxed);
        continue;  // closed by base::UniqueFd
      }
      const int on = 1;
      ::setsockopt(socket.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
      const int raw_fd = socket.get();
      auto connection = std::make_unique<ConnectionIo>(*this, std::move(socket), loop_->now());
      ConnectionIo& io = *connection;
      connections_.push_back(std::move(connection));
      io.self = std::prev(connections_.end());
      if (!loop_->add(raw_fd, io.registered, &io)) {
        server_.events_("epoll_add_failed", errno);
        connections_.erase(io.self);
        continue;
      }
      server_.open_connections_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  // Out of descriptors: the pending connection would make the listener ready forever. Give up the spare
  // descriptor to accept and close it; if even that fails, stop listening for a moment instead of spinning.
  void shed_one_connection(int error_number) {
    server_.rejected_.fetch_add(1, std::memory_order_relaxed);
    const auto now = loop_->now();
    if (now - last_fd_warning_ > std::chrono::seconds(1)) {
      server_.events_("out_of_file_descriptors", error_number);
      last_fd_warning_ = now;
    }
    spare_fd_.reset();
    base::UniqueFd doomed(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    doomed.reset();
    spare_fd_ = make_spare_fd();
    if (!spare_fd_ || !doomed.valid()) pause_listening();
  }

  void pause_listening() {
    if (listener_paused_ || !listener_) return;
    loop_->remove(listener_.get());
    listener_paused_ = true;
    loop_->run_after(kListenerPause, [this] {
      listener_paused_ = false;
      if (!spare_fd_) spare_fd_ = make_spare_fd();
      if (listener_) loop_->add(listener_.get(), EPOLLIN, &listener_io_);
    });
  }

  void stop_listening() {
    if (!listener_) return;
    if (!listener_paused_) loop_->remove(listener_.get());
    listener_.reset();
  }

  void close(ConnectionIo& io) {
    io.fd.reset();  // closing the only descriptor of the socket also takes it out of the epoll set
    server_.open_connections_.fetch_sub(1, std::memory_order_relaxed);
    // Destroyed after the current batch of events: its own on_io may still be on the stack.
    auto it = io.self;
    std::unique_ptr<ConnectionIo> owned = std::move(*it);
    connections_.erase(it);
    loop_->defer([doomed = std::shared_ptr<ConnectionIo>(std::move(owned))] {});
    stop_if_drained();
  }

  void stop_if_drained() {
    if (draining_ && connections_.empty()) loop_->stop();
  }

  void sweep() {
    const auto now = loop_->now();
    for (auto it = connections_.begin(); it != connections_.end();) {
      ConnectionIo& io = **it++;  // advance first: io may be closed below
      check_deadlines(io, now);
    }
  }

  void check_deadlines(ConnectionIo& io, EventLoop::Clock::time_point now) {
    if (io.lingering) {
      if (now >= io.linger_until) close(io);
      return;
    }
    if (!io.conn.output().empty()) {
      if (io.write_blocked && now - io.write_blocked_since > options_.write_timeout) {
        // Abortive close (RST): a plain close would leave the unsent bytes with the kernel, probing a
        // zero window for minutes on behalf of a peer that stopped reading.
        const linger abort_on_close{1, 0};
        ::setsockopt(io.fd.get(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof abort_on_close);
        close(io);
      }
      return;
    }
    bool expired = false;
    switch (io.conn.phase()) {
      case http::Connection::Phase::kIdle:
        // A connection that has not sent a byte yet gets the head deadline: opening connections and sending
        // nothing must not hold them for a whole idle period.
        if (now - std::max(io.last_read, io.last_write) >
            (io.last_read == io.accepted_at ? std::min(options_.header_timeout, options_.idle_timeout)
                                            : options_.idle_timeout)) {
          close(io);
          return;
        }
        break;
      case http::Connection::Phase::kHead:
        expired = now - io.conn.request_started() > options_.header_timeout;
        break;
      case http::Connection::Phase::kBody:
        expired = now - io.last_read > options_.body_timeout;
        break;
      case http::Connection::Phase::kClosing:
        break;
    }
    if (!expired) return;
    io.conn.on_timeout();
    if (io.flush(now)) io.after_io(now);
  }

  Server& server_;
  const ServerOptions& options_;
  // Declared before the loop: connections still queued for destruction in the loop report to the handler.
  std::unique_ptr<http::Handler> handler_;
  http::DateCache dates_;
  std::unique_ptr<EventLoop> loop_;
  base::UniqueFd listener_;
  ListenerIo listener_io_;
  base::UniqueFd spare_fd_;
  std::list<std::unique_ptr<ConnectionIo>> connections_;
  bool draining_ = false;
  bool listener_paused_ = false;
  EventLoop::Clock::time_point last_fd_warning_{};
};

// Turns the shutdown signals, read from a signalfd on loop 0, into on_signal, the delay and the drain.
class Server::SignalWatcher final : public IoHandler {
 public:
  SignalWatcher(Server& server, EventLoop& loop, base::UniqueFd fd) noexcept
      : server_(server), shutdown_(*server.options_.signal_shutdown), loop_(loop), fd_(std::move(fd)) {}

  bool arm() noexcept { return loop_.add(fd_.get(), EPOLLIN, this); }

  void on_io(std::uint32_t) noexcept override {
    signalfd_siginfo info{};
    while (::read(fd_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      on_signal(static_cast<int>(info.ssi_signo));
    }
  }

 private:
  enum class Phase { kServing, kDelaying, kDraining };

  void on_signal(int signal_number) {
    switch (phase_) {
      case Phase::kServing:
        phase_ = Phase::kDelaying;
        if (shutdown_.on_signal) shutdown_.on_signal(signal_number);
        if (shutdown_.delay > std::chrono::milliseconds::zero()) {
          delay_timer_ = loop_.run_after(shutdown_.delay, [this] { drain(); });
        } else {
          drain();
        }
        break;
      case Phase::kDelaying:  // a second signal: stop waiting for the load balancers
        loop_.cancel(delay_timer_);
        drain();
        break;
      case Phase::kDraining:
        break;
    }
  }

  void drain() {
    phase_ = Phase::kDraining;
    server_.drain(shutdown_.grace);
  }

  Server& server_;
  const SignalShutdown& shutdown_;
  EventLoop& loop_;
  base::UniqueFd fd_;
  Phase phase_ = Phase::kServing;
  EventLoop::TimerId delay_timer_ = 0;
};

Server::Server(ServerOptions options, HandlerFactory make_handler, ServerEventSink events)
    : options_(std::move(options)), make_handler_(std::move(make_handler)), events_(std::move(events)) {}

Server::~Server() {
  for (auto& worker : workers_) worker->drain(std::chrono::milliseconds(0));
  join_threads();
}

base::Status Server::start() {
  SocketAddress address = options_.address;
  const unsigned threads = std::max(1u, options_.threads);
  std::vector<std::pair<std::unique_ptr<EventLoop>, base::UniqueFd>> parts;
  for (unsigned i = 0; i < threads; ++i) {
    auto loop = EventLoop::create();
    if (!loop) return loop.status();
    auto listener = listen_tcp(address, SOMAXCONN);
    if (!listener) return listener.status();
    if (i == 0) {
      // With port 0 the kernel picks one; every further listener must share it.
      port_ = bound_port(listener->get());
      auto* storage = &address.storage;
      if (storage->ss_family == AF_INET) {
        reinterpret_cast<sockaddr_in*>(storage)->sin_port = htons(port_);
      } else {
        reinterpret_cast<sockaddr_in6*>(storage)->sin6_port = htons(port_);
      }
    }
    parts.emplace_back(std::move(*loop), std::move(*listener));
  }
  for (unsigned i = 0; i < threads; ++i) {
    workers_.push_back(std::make_unique<Worker>(*this, i, std::move(parts[i].first), std::move(parts[i].second)));
    if (base::Status armed = workers_.back()->arm(); !armed) return armed;
  }
  if (options_.signal_shutdown) {
    base::UniqueFd fd(::signalfd(-1, &options_.signal_shutdown->signals, SFD_NONBLOCK | SFD_CLOEXEC));
    if (!fd) return base::Status::from_errno("signalfd", errno);
    signal_watcher_ = std::make_unique<SignalWatcher>(*this, workers_.front()->loop(), std::move(fd));
    if (!signal_watcher_->arm()) return base::Status::from_errno("epoll_ctl(signalfd)", errno);
  }
  // Loop 0 is run by run() on the caller's thread.
  for (std::size_t i = 1; i < workers_.size(); ++i) threads_.emplace_back([w = workers_[i].get()] { w->run(); });
  return base::Status::ok();
}

void Server::run() {
  if (!workers_.empty()) workers_.front()->run();
  join_threads();
}

void Server::drain(std::chrono::milliseconds grace) {
  for (auto& worker : workers_) worker->drain(grace);
}

void Server::join_threads() {
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
}

}  // namespace net
