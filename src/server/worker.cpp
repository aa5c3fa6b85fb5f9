#include "server/worker.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <new>
#include <random>

#include "server/client_limiter.h"

namespace server {

namespace {

constexpr int kAcceptsPerEvent = 64;
constexpr auto kListenerPause = std::chrono::milliseconds(100);

// 64 bits from the kernel's random source, distinct per loop even if that source were to repeat itself.
std::uint64_t random_seed(unsigned loop_index) {
  std::random_device source;
  const std::uint64_t high = source();
  return ((high << 32) | source()) ^ (0x9e3779b97f4a7c15u * (loop_index + 1));
}

// Spare descriptor given up to accept-and-close a connection when the process is out of descriptors.
base::UniqueFd make_spare_fd() { return base::UniqueFd(::eventfd(0, EFD_CLOEXEC)); }

std::chrono::milliseconds sweep_interval(const http::ConnectionTimeouts& t) {
  const auto shortest = std::min({t.header, t.body, t.idle, t.write, t.linger});
  return std::clamp(shortest / 4, std::chrono::milliseconds(5), std::chrono::milliseconds(250));
}

http::ConnectionConfig config_for(const ServerOptions& options, base::MemoryAccount* buffers) {
  http::ConnectionConfig config = options.connection;
  config.accounts.buffers = buffers;
  return config;
}

}  // namespace

class Worker::ListenerIo final : public net::IoHandler {
 public:
  ListenerIo(Worker& worker, ListenerKind kind) noexcept : worker_(worker), kind_(kind) {}
  void on_io(std::uint32_t) noexcept override { worker_.accept_ready(kind_); }

 private:
  Worker& worker_;
  ListenerKind kind_;
};

Worker::Worker(Server& server, unsigned index, std::unique_ptr<net::EventLoop> loop, base::UniqueFd listener,
               base::UniqueFd admin_listener)
    : server_(server),
      options_(server.options_),
      handler_(server.make_handler_(index, ListenerKind::kData, *loop)),
      admin_handler_(admin_listener ? server.make_handler_(index, ListenerKind::kAdmin, *loop) : nullptr),
      request_ids_(random_seed(index)),
      data_config_(config_for(server.options_, server.options_.connection_memory)),
      admin_config_(config_for(server.options_, server.options_.admin_memory)),
      read_buffer_(std::make_unique<std::array<char, kReadBufferBytes>>()),
      loop_(std::move(loop)),
      listener_(std::move(listener)),
      admin_listener_(std::move(admin_listener)),
      listener_io_(std::make_unique<ListenerIo>(*this, ListenerKind::kData)),
      admin_listener_io_(std::make_unique<ListenerIo>(*this, ListenerKind::kAdmin)),
      spare_fd_(make_spare_fd()) {
  data_config_.request_ids = &request_ids_;
  admin_config_.request_ids = &request_ids_;
}

Worker::~Worker() {
  // Connections report abandoned requests to the handlers, so they go first.
  connections_.clear();
  closed_.clear();
}

base::Status Worker::arm() {
  if (!loop_->add(listener_.get(), EPOLLIN, listener_io_.get())) return base::Status::from_errno("epoll_ctl(listener)", errno);
  if (admin_listener_ && !loop_->add(admin_listener_.get(), EPOLLIN, admin_listener_io_.get())) {
    return base::Status::from_errno("epoll_ctl(admin listener)", errno);
  }
  loop_->run_every(sweep_interval(options_.connection.timeouts), [this] { sweep(); });
  return base::Status::ok();
}

void Worker::drain(std::chrono::milliseconds grace) {
  loop_->post([this, grace] {
    draining_ = true;
    stop_listening();
    refresh_date();
    const auto now = loop_->now();
    for (auto it = connections_.begin(); it != connections_.end();) {
      ConnectionIo& io = **it++;  // advance first: pump may close (and unlink) it
      io.connection().begin_drain();
      io.pump(now);
    }
    loop_->run_after(grace, [this] {
      server_.events_("shutdown_grace_expired", 0);
      while (!connections_.empty()) close(*connections_.front(), false);
      loop_->stop();
    });
    stop_if_drained();
  });
}

void Worker::accept_ready(ListenerKind kind) noexcept {
  for (int i = 0; i < kAcceptsPerEvent; ++i) {
    const int listener = kind == ListenerKind::kData ? listener_.get() : admin_listener_.get();
    if (listener < 0) return;
    sockaddr_storage peer{};
    socklen_t length = sizeof peer;
    base::UniqueFd socket(::accept4(listener, reinterpret_cast<sockaddr*>(&peer), &length, SOCK_NONBLOCK | SOCK_CLOEXEC));
    if (!socket) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
      if (errno == EMFILE || errno == ENFILE) {
        shed_one_connection(listener, errno);
        continue;
      }
      server_.events_("accept_failed", errno);
      return;
    }
    admit(std::move(socket), peer, kind);
  }
}

// A connection gets a slot only if every limit that applies agrees; otherwise it is closed at once (by
// `socket` going out of scope) and the refusal is counted.
void Worker::admit(base::UniqueFd socket, const sockaddr_storage& peer, ListenerKind kind) noexcept {
  const bool admin = kind == ListenerKind::kAdmin;
  std::atomic<std::size_t>& open = server_.open_[admin ? 1 : 0];
  const std::size_t limit = admin ? options_.admin_max_connections : options_.max_connections;
  if (open.fetch_add(1, std::memory_order_relaxed) >= limit) {
    open.fetch_sub(1, std::memory_order_relaxed);
    server_.count_rejection(admin ? Rejection::kAdminLimit : Rejection::kConnectionLimit);
    return;
  }
  const ClientKey client = admin ? ClientKey{} : client_key(peer);
  if (!server_.limiter_->try_acquire(client)) {
    open.fetch_sub(1, std::memory_order_relaxed);
    server_.count_rejection(Rejection::kClientLimit);
    return;
  }
  const auto undo = [&](Rejection why) {
    server_.limiter_->release(client);
    open.fetch_sub(1, std::memory_order_relaxed);
    server_.count_rejection(why);
  };
  base::MemoryAccount* account = admin ? options_.admin_memory : options_.connection_memory;
  base::MemoryReservation charge = account ? base::MemoryReservation(*account) : base::MemoryReservation();
  if (!charge.resize(options_.connection_cost_bytes)) {
    undo(admin ? Rejection::kAdminLimit : Rejection::kConnectionMemory);
    return;
  }
  const int on = 1;
  ::setsockopt(socket.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  const int raw_fd = socket.get();
  ConnectionIo* io = nullptr;
  try {
    auto connection = std::make_unique<ConnectionIo>(*this, std::move(socket), kind, client, std::move(charge),
                                                     admin ? admin_config_ : data_config_,
                                                     admin ? *admin_handler_ : *handler_, loop_->now());
    io = connection.get();
    connections_.push_back(std::move(connection));
  } catch (const std::bad_alloc&) {
    undo(admin ? Rejection::kAdminLimit : Rejection::kConnectionMemory);
    return;
  }
  io->self = std::prev(connections_.end());
  if (!loop_->add(raw_fd, io->registered_events(), io)) {
    server_.events_("epoll_add_failed", errno);
    server_.limiter_->release(client);
    open.fetch_sub(1, std::memory_order_relaxed);
    connections_.erase(io->self);
    return;
  }
  io->pump(loop_->now());  // its first deadline: a connection that never sends a byte must still time out
}

// Out of descriptors: the pending connection would make the listener ready forever. Give up the spare
// descriptor to accept and close it; if even that fails, stop listening for a moment instead of spinning.
void Worker::shed_one_connection(int listener, int error_number) noexcept {
  server_.count_rejection(Rejection::kOutOfDescriptors);
  const auto now = loop_->now();
  if (now - last_fd_warning_ > std::chrono::seconds(1)) {
    server_.events_("out_of_file_descriptors", error_number);
    last_fd_warning_ = now;
  }
  spare_fd_.reset();
  base::UniqueFd doomed(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  const bool accepted = doomed.valid();
  doomed.reset();
  spare_fd_ = make_spare_fd();
  if (!spare_fd_ || !accepted) pause_listening();
}

void Worker::pause_listening() noexcept {
  if (listener_paused_ || !listener_) return;
  loop_->remove(listener_.get());
  if (admin_listener_) loop_->remove(admin_listener_.get());
  listener_paused_ = true;
  try {
    loop_->run_after(kListenerPause, [this] {
      listener_paused_ = false;
      if (!spare_fd_) spare_fd_ = make_spare_fd();
      if (listener_) loop_->add(listener_.get(), EPOLLIN, listener_io_.get());
      if (admin_listener_) loop_->add(admin_listener_.get(), EPOLLIN, admin_listener_io_.get());
    });
  } catch (...) {
    listener_paused_ = false;  // could not schedule the resume: keep listening rather than stop for good
    if (listener_) loop_->add(listener_.get(), EPOLLIN, listener_io_.get());
    if (admin_listener_) loop_->add(admin_listener_.get(), EPOLLIN, admin_listener_io_.get());
  }
}

void Worker::stop_listening() noexcept {
  if (!listener_paused_) {
    if (listener_) loop_->remove(listener_.get());
    if (admin_listener_) loop_->remove(admin_listener_.get());
  }
  listener_.reset();
  admin_listener_.reset();
}

void Worker::close(ConnectionIo& io, bool abortive) noexcept {
  io.close_socket(abortive);
  server_.limiter_->release(io.client());
  server_.open_[io.kind() == ListenerKind::kAdmin ? 1 : 0].fetch_sub(1, std::memory_order_relaxed);
  if (io.scheduled) std::replace(scheduled_.begin(), scheduled_.end(), &io, static_cast<ConnectionIo*>(nullptr));
  // Destroyed after the current batch of events, when its own on_io is no longer on the stack. Splicing
  // moves the list node without allocating; the cleanup is queued once per batch.
  closed_.splice(closed_.end(), connections_, io.self);
  if (!cleanup_queued_) {
    try {
      loop_->defer([this] { release_closed(); });
      cleanup_queued_ = true;
    } catch (...) {
      // The next sweep, which runs outside every connection's on_io, releases them instead.
    }
  }
  stop_if_drained();
}

void Worker::release_closed() noexcept {
  cleanup_queued_ = false;
  closed_.clear();
}

void Worker::schedule(ConnectionIo& io) noexcept {
  if (io.scheduled) return;
  io.scheduled = true;  // the sweep pumps it even if the list below cannot grow
  try {
    scheduled_.push_back(&io);
    if (!scheduled_task_queued_) {
      loop_->defer([this] { run_scheduled(); });
      scheduled_task_queued_ = true;
    }
  } catch (...) {
  }
}

void Worker::run_scheduled() noexcept {
  scheduled_task_queued_ = false;
  refresh_date();
  const auto now = loop_->now();
  // By index: a pump may schedule others (appended) or close itself (its entry is nulled).
  for (std::size_t i = 0; i < scheduled_.size(); ++i) {
    ConnectionIo* io = scheduled_[i];
    if (io == nullptr) continue;
    scheduled_[i] = nullptr;
    io->scheduled = false;
    io->pump(now);
  }
  scheduled_.clear();
}

void Worker::sweep() noexcept {
  if (!cleanup_queued_) closed_.clear();
  refresh_date();
  const auto now = loop_->now();
  for (auto it = connections_.begin(); it != connections_.end();) {
    ConnectionIo* io = (it++)->get();  // advance first: io may be closed below
    if (io->scheduled || now >= io->deadline()) {
      io->scheduled = false;
      io->pump(now);
    }
  }
}

void Worker::stop_if_drained() noexcept {
  if (draining_ && connections_.empty()) loop_->stop();
}

}  // namespace server
