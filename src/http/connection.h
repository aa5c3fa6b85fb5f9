#pragma once
// Connection: the HTTP/1.1 protocol state of one client connection, without a socket or a clock
// (sans-I/O), so the server, the tests and the fuzzers drive the very same code.
//
// The owner reports what happened on the socket — bytes received (on_received, or read straight into
// direct_input()), end of input, bytes written, a write that would block — and then calls advance(now),
// the one place where the connection acts: it parses requests, reads bodies, calls the Handler, queues
// responses in request order, checks every deadline, and answers with a Directive: whether it wants input,
// whether it has output, what to do with the socket (keep, half-close and linger, close, abort), and by
// when advance() must be called again. All timing comes from `now`.
//
// Framing the connection cannot trust (bad head, conflicting lengths, bad chunking, an early refusal of an
// announced body) is answered with the precise status and then closes, so nothing after it can be
// smuggled into another request; such a close half-closes first and drains what the peer still sends for
// a moment, so the peer reads the refusal rather than a reset. Every byte a client makes the connection
// hold is charged before it is held: its input, head copies and owned output to the buffer account, its
// body to the in-flight body budget (reserved from the announced length, or per chunk). Parsing pauses
// while the output holds more than the watermark, so a client that does not read cannot make it buffer
// without bound; a large stored value is queued as a shared slice, not copied.
#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "base/buffer.h"
#include "base/memory_account.h"
#include "base/shared_bytes.h"
#include "http/body_sink.h"
#include "http/chunked_decoder.h"
#include "http/handler.h"
#include "http/output_queue.h"
#include "http/request.h"
#include "http/request_id.h"
#include "http/request_parser.h"
#include "http/response.h"

namespace http {

struct ConnectionLimits {
  ParserLimits parser;
  std::size_t max_body_bytes = 64u << 20;
  std::size_t output_high_watermark = 64u << 10;  // owned output bytes above which parsing pauses
  std::size_t max_queued_slices = 64;             // shared slices queued above which parsing pauses
  std::size_t keep_buffer_bytes = 4096;           // buffer storage kept between requests
};

struct ConnectionTimeouts {
  std::chrono::milliseconds header{10000};  // a whole head, from its first byte (408)
  std::chrono::milliseconds body{30000};    // longest pause in a body, and the grace before body_min_rate (408)
  std::chrono::milliseconds idle{60000};    // between requests
  std::chrono::milliseconds write{30000};   // a peer that keeps our writes blocked is cut off
  std::chrono::milliseconds linger{2000};   // draining a refused client's input after the half-close
  std::uint64_t body_min_rate = 1024;       // bytes/s a body must average after the grace; 0 = no minimum
};

// The budgets a connection charges; null accounts charge nothing (tests).
struct ConnectionAccounts {
  base::MemoryAccount* bodies = nullptr;   // request bodies being received
  base::MemoryAccount* buffers = nullptr;  // input, head copies and owned output
  base::ValueFiles* value_files = nullptr;  // large bodies may be received into memory files
};

struct ConnectionConfig {
  ConnectionLimits limits;
  ConnectionTimeouts timeouts;
  ConnectionAccounts accounts;
  // The event loop's generator: each request with a parsed head gets a RequestId, returned on its response
  // and reported in its ResponseRecord. Null: no request ids (tests that compare responses byte for byte).
  RequestIdGenerator* request_ids = nullptr;
};

enum class SocketAction : std::uint8_t {
  kKeep,
  kShutdownWrite,  // half-close now, keep reading (and discarding) until EOF or the linger deadline
  kClose,
  kAbort,  // close with a reset: the peer has stopped reading and unsent bytes must not linger
};

class Connection {
 public:
  using Clock = std::chrono::steady_clock;

  struct Directive {
    bool read = false;   // wants input now
    bool write = false;  // has output to write
    SocketAction action = SocketAction::kKeep;
    Clock::time_point deadline = Clock::time_point::max();  // call advance() again by then
  };

  Connection(const ConnectionConfig& config, Handler& handler, const DateCache& dates, Clock::time_point opened) noexcept;
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // ---- What happened on the socket. These only record; advance() acts on them.
  // `bytes` must stay valid until the next advance() returns (the owner's read buffer).
  void on_received(std::string_view bytes) noexcept;
  // Room to read into without a copy (the rest of a Content-Length body), or empty; then on_received_direct().
  std::span<char> direct_input() noexcept;
  void on_received_direct(std::size_t n) noexcept;
  void on_peer_closed() noexcept;
  std::size_t gather_output(std::span<iovec> out, bool* file_follows = nullptr) const noexcept {
    return output_.gather(out, file_follows);
  }
  // The next output when it lies in a stored value's memory file, to be sent with sendfile().
  std::optional<OutputQueue::FileSlice> file_output() const noexcept { return output_.front_file_slice(); }
  void on_written(std::size_t n) noexcept;
  void on_write_blocked() noexcept;

  // Graceful shutdown: an idle connection closes at once, a busy one after its current response.
  void begin_drain() noexcept;
  // Called (on the loop thread) when a deferred response has been completed, so the owner calls advance().
  void set_wake(std::function<void()> wake) noexcept { wake_ = std::move(wake); }

  Directive advance(Clock::time_point now) noexcept;

  // For tests and the owner's bookkeeping.
  bool awaiting_handler() const noexcept { return state_ == State::kAwaitingHandler; }
  std::size_t buffered_output() const noexcept { return output_.size(); }

 private:
  friend class PendingResponse;
  friend struct detail::PendingSlot;
  class Sink;
  class DeferrerImpl;
  enum class State { kHead, kBody, kChunkedBody, kAwaitingHandler, kLingering };

  // connection.cpp: events, deadlines, the directive.
  void note_progress(Clock::time_point now) noexcept;
  bool stash_unread_input() noexcept;
  void expire_deadlines(Clock::time_point now) noexcept;
  Clock::time_point next_deadline() const noexcept;
  Directive directive(Clock::time_point now) noexcept;
  bool output_has_room() const noexcept;
  void fail_request(int status) noexcept;

  // connection_requests.cpp: parsing, bodies, the handler, responses.
  void process(Clock::time_point now);
  std::string_view unread() const noexcept;
  void consume(std::size_t n) noexcept;
  void discard_input() noexcept;
  bool on_head(std::size_t head_bytes, Clock::time_point now);
  bool begin_body(std::size_t head_bytes, Clock::time_point now);
  bool read_body();
  void dispatch();
  void refuse(int status, Refusal reason, bool head_known) noexcept;
  void finish(const Response& response, Refusal reason, bool head_known) noexcept;
  void complete_pending(detail::PendingSlot& slot, const Response& response) noexcept;
  void reset_for_next_request() noexcept;
  void end_request() noexcept;
  // The record of the current request's response, and its delivery to the handler (which ends the request).
  ResponseRecord current_record(int status, Refusal reason, bool head_known) const noexcept;
  void report(const ResponseRecord& record) noexcept;

  const ConnectionConfig& config_;
  Handler& handler_;
  const DateCache& dates_;

  State state_ = State::kHead;
  base::Buffer input_;         // bytes received and not yet consumed (beyond fresh_)
  std::string_view fresh_;     // bytes reported by on_received(), read before input_ is touched
  std::size_t direct_bytes_ = 0;
  OutputQueue output_;
  RequestHeadParser parser_;
  RequestHead head_;
  base::Buffer head_copy_;     // the head of a request whose body is still arriving
  base::ByteBuilder body_;
  std::optional<ChunkedDecoder> chunked_;
  std::uint64_t body_remaining_ = 0;
  std::uint64_t body_received_ = 0;
  std::uint32_t tag_ = kNoTag;
  RequestId request_id_;       // the current request's, from on_head() until it is answered
  Response refusal_;           // a handler's refusal of a chunk, kept until it is answered
  bool refusal_pending_ = false;
  std::shared_ptr<detail::PendingSlot> pending_;
  std::function<void()> wake_;

  Clock::time_point opened_;
  Clock::time_point last_activity_;
  Clock::time_point request_started_{};
  Clock::time_point body_started_{};
  Clock::time_point last_body_progress_{};
  Clock::time_point write_blocked_since_{};
  Clock::time_point linger_until_{};
  bool request_clock_running_ = false;
  bool request_active_ = false;
  bool any_request_ = false;      // a byte of some request has arrived
  bool closing_ = false;          // close once the output is written; further input is discarded
  bool refused_ = false;          // the close follows a refusal: half-close and linger first
  bool refuse_after_answer_ = false;  // input behind a pending answer could not be held: refuse after it
  bool abort_ = false;
  bool peer_closed_ = false;
  bool write_blocked_ = false;
  bool write_block_noted_ = false;
  bool wrote_ = false;
  bool draining_ = false;
};

}  // namespace http
