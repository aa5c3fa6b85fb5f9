#pragma once
// Worker: one event loop of the server — its listeners (the data listener, and on loop 0 the admin one),
// the connections they accepted, the sweep that lets connections whose deadline has passed act, and the
// shared per-loop resources connections borrow: the read buffer and the Date header.
#include <array>
#include <chrono>
#include <list>
#include <memory>
#include <span>
#include <vector>

#include "base/status.h"
#include "base/unique_fd.h"
#include "http/handler.h"
#include "http/request_id.h"
#include "http/response.h"
#include "net/event_loop.h"
#include "server/connection_io.h"
#include "server/server.h"

namespace server {

class Worker {
 public:
  Worker(Server& server, unsigned index, std::unique_ptr<net::EventLoop> loop, base::UniqueFd listener,
         base::UniqueFd admin_listener);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  base::Status arm();
  void run() { loop_->run(); }
  void drain(std::chrono::milliseconds grace);  // any thread
  net::EventLoop& loop() noexcept { return *loop_; }

  // For ConnectionIo.
  std::span<char> read_buffer() noexcept { return {read_buffer_->data(), read_buffer_->size()}; }
  const http::DateCache& dates() const noexcept { return dates_; }
  void refresh_date() noexcept { dates_.update(loop_->wall_seconds()); }
  void close(ConnectionIo& io, bool abortive) noexcept;
  void schedule(ConnectionIo& io) noexcept;  // pump it after the current batch

 private:
  class ListenerIo;
  static constexpr std::size_t kReadBufferBytes = 64 * 1024;

  void accept_ready(ListenerKind kind) noexcept;
  void admit(base::UniqueFd socket, const sockaddr_storage& peer, ListenerKind kind) noexcept;
  void shed_one_connection(int listener_fd, int error_number) noexcept;
  void pause_listening() noexcept;
  void stop_listening() noexcept;
  void sweep() noexcept;
  void run_scheduled() noexcept;
  void stop_if_drained() noexcept;
  void release_closed() noexcept;

  Server& server_;
  const ServerOptions& options_;
  // Declared before the loop: connections still queued for destruction in the loop report to the handlers.
  std::unique_ptr<http::Handler> handler_;
  std::unique_ptr<http::Handler> admin_handler_;
  // This loop's request ids: seeded from the kernel's random source at start-up, then a few instructions
  // per request, never shared with another thread.
  http::RequestIdGenerator request_ids_;
  http::ConnectionConfig data_config_;
  http::ConnectionConfig admin_config_;
  http::DateCache dates_;
  std::unique_ptr<std::array<char, kReadBufferBytes>> read_buffer_;
  std::unique_ptr<net::EventLoop> loop_;
  base::UniqueFd listener_;
  base::UniqueFd admin_listener_;
  std::unique_ptr<ListenerIo> listener_io_;
  std::unique_ptr<ListenerIo> admin_listener_io_;
  base::UniqueFd spare_fd_;
  std::list<std::unique_ptr<ConnectionIo>> connections_;
  std::list<std::unique_ptr<ConnectionIo>> closed_;  // closed in this batch, destroyed after it
  bool cleanup_queued_ = false;
  std::vector<ConnectionIo*> scheduled_;
  bool scheduled_task_queued_ = false;
  bool draining_ = false;
  bool listener_paused_ = false;
  net::EventLoop::Clock::time_point last_fd_warning_{};
};

}  // namespace server
