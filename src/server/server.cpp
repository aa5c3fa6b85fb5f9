#include "server/server.h"

#include <netinet/in.h>
#include <sys/signalfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <random>

#include "server/client_limiter.h"
#include "server/worker.h"

namespace server {

namespace {

void set_port(net::SocketAddress& address, std::uint16_t port) noexcept {
  auto* storage = &address.storage;
  if (storage->ss_family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(storage)->sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6*>(storage)->sin6_port = htons(port);
  }
}

std::uint16_t port_of(const net::SocketAddress& address) noexcept {
  const auto* storage = &address.storage;
  return ntohs(storage->ss_family == AF_INET ? reinterpret_cast<const sockaddr_in*>(storage)->sin_port
                                             : reinterpret_cast<const sockaddr_in6*>(storage)->sin6_port);
}

}  // namespace

// Turns the reload signals, read from a signalfd on loop 0, into on_reload, and the shutdown signals into
// on_signal, the delay and the drain.
class Server::SignalWatcher final : public net::IoHandler {
 public:
  SignalWatcher(Server& server, net::EventLoop& loop, base::UniqueFd fd) noexcept
      : server_(server),
        shutdown_(server.options_.signal_shutdown ? &*server.options_.signal_shutdown : nullptr),
        reload_(server.options_.signal_reload ? &*server.options_.signal_reload : nullptr),
        loop_(loop),
        fd_(std::move(fd)) {}

  bool arm() noexcept { return loop_.add(fd_.get(), EPOLLIN, this); }

  void on_io(std::uint32_t) noexcept override {
    signalfd_siginfo info{};
    while (::read(fd_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
      const int signal_number = static_cast<int>(info.ssi_signo);
      if (reload_ != nullptr && sigismember(&reload_->signals, signal_number) == 1) {
        reload();
        continue;
      }
      if (shutdown_ == nullptr) continue;
      try {
        on_signal(signal_number);
      } catch (...) {
        drain();  // whatever failed, a shutdown signal must still shut the server down
      }
    }
  }

 private:
  enum class Phase { kServing, kDelaying, kDraining };

  void reload() noexcept {
    try {
      if (reload_->on_reload) reload_->on_reload();
    } catch (...) {
      // The callback reports its own errors; an exception (out of memory) leaves the server serving.
      try {
        server_.events_("signal_reload_failed", 0);
      } catch (...) {
      }
    }
  }

  void on_signal(int signal_number) {
    switch (phase_) {
      case Phase::kServing:
        phase_ = Phase::kDelaying;
        if (shutdown_->on_signal) shutdown_->on_signal(signal_number);
        if (shutdown_->delay > std::chrono::milliseconds::zero()) {
          delay_timer_ = loop_.run_after(shutdown_->delay, [this] { drain(); });
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

  void drain() noexcept {
    if (phase_ == Phase::kDraining) return;
    phase_ = Phase::kDraining;
    try {
      server_.drain(shutdown_->grace);
    } catch (...) {
      for (auto& worker : server_.workers_) worker->loop().stop();
    }
  }

  Server& server_;
  const SignalShutdown* shutdown_;  // nullptr: no shutdown signals
  const SignalReload* reload_;      // nullptr: no reload signals
  net::EventLoop& loop_;
  base::UniqueFd fd_;
  Phase phase_ = Phase::kServing;
  net::EventLoop::TimerId delay_timer_ = 0;
};

Server::Server(ServerOptions options, HandlerFactory make_handler, ServerEventSink events)
    : options_(std::move(options)), make_handler_(std::move(make_handler)), events_(std::move(events)) {}

Server::~Server() {
  for (auto& worker : workers_) worker->drain(std::chrono::milliseconds(0));
  join_threads();
}

std::uint64_t Server::rejected_connections() const noexcept {
  std::uint64_t total = 0;
  for (const auto& count : rejected_) total += count.load(std::memory_order_relaxed);
  return total;
}

base::Status Server::start() {
  net::SocketAddress address = options_.address;
  const unsigned threads = std::max(1u, options_.threads);
  const net::ListenOptions listen_options{SOMAXCONN, options_.socket_buffer_bytes};
  std::vector<std::pair<std::unique_ptr<net::EventLoop>, base::UniqueFd>> parts;
  for (unsigned i = 0; i < threads; ++i) {
    auto loop = net::EventLoop::create();
    if (!loop) return loop.status();
    (*loop)->set_error_sink([this](std::string_view) { events_("loop_task_failed", 0); });
    auto listener = net::listen_tcp(address, listen_options);
    if (!listener && i == 0 && net::is_ipv6_wildcard(address) && listener.status().error_number() == EAFNOSUPPORT) {
      // "::" on a host without IPv6: serve IPv4 alone rather than not at all, and say so.
      events_("ipv6_unavailable_listening_on_ipv4_only", EAFNOSUPPORT);
      address = net::ipv4_wildcard(port_of(address));
      listener = net::listen_tcp(address, listen_options);
    }
    if (!listener) return listener.status();
    if (i == 0 && net::is_ipv6_wildcard(address) && !net::ipv6_usable()) {
      events_("ipv6_disabled_serving_ipv4_only", 0);
    }
    if (i == 0) {
      // With port 0 the kernel picks one; every further listener must share it.
      port_ = net::bound_port(listener->get());
      set_port(address, port_);
    }
    parts.emplace_back(std::move(*loop), std::move(*listener));
  }
  base::UniqueFd admin_listener;
  if (options_.admin_address) {
    auto admin = net::listen_tcp(*options_.admin_address, net::ListenOptions{SOMAXCONN, 0});
    if (!admin && net::is_ipv6_wildcard(*options_.admin_address) && admin.status().error_number() == EAFNOSUPPORT) {
      admin = net::listen_tcp(net::ipv4_wildcard(port_of(*options_.admin_address)), net::ListenOptions{SOMAXCONN, 0});
    }
    if (!admin) return base::Status::error("admin listener: " + admin.status().message(), admin.status().error_number());
    admin_port_ = net::bound_port(admin->get());
    admin_listener = std::move(*admin);
  }
  std::random_device entropy;
  limiter_ = std::make_unique<ClientLimiter>(options_.max_connections_per_client,
                                             (static_cast<std::uint64_t>(entropy()) << 32) ^ entropy());
  for (unsigned i = 0; i < threads; ++i) {
    workers_.push_back(std::make_unique<Worker>(*this, i, std::move(parts[i].first), std::move(parts[i].second),
                                                i == 0 ? std::move(admin_listener) : base::UniqueFd()));
    if (base::Status armed = workers_.back()->arm(); !armed) return armed;
  }
  if (options_.signal_shutdown || options_.signal_reload) {
    sigset_t watched;
    sigemptyset(&watched);
    if (options_.signal_shutdown) sigorset(&watched, &watched, &options_.signal_shutdown->signals);
    if (options_.signal_reload) sigorset(&watched, &watched, &options_.signal_reload->signals);
    base::UniqueFd fd(::signalfd(-1, &watched, SFD_NONBLOCK | SFD_CLOEXEC));
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

}  // namespace server
