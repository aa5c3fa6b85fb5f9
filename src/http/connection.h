#pragma once
// Connection: the HTTP/1.1 protocol state of one client connection, without any socket (sans-I/O), so the
// server, the tests and the fuzzers drive the very same code.
//
// The owner reads bytes into input() and calls process(); the connection parses request heads, reads
// Content-Length or chunked bodies, calls the Handler, and appends responses, in request order, to output().
// The owner writes output() to the peer and closes the connection once should_close() is true and the
// output is drained. Framing the connection cannot trust (bad head, conflicting lengths, bad chunking, an
// early refusal of an announced body) is answered with the precise status and then closes, so nothing after
// it can be smuggled into another request. Pipelined requests are answered in order; parsing pauses while
// more than output_high_watermark bytes wait to be written, so a client that does not read cannot make the
// server buffer without bound.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "http/chunked_decoder.h"
#include "http/handler.h"
#include "http/request.h"
#include "http/request_parser.h"
#include "http/response.h"
#include "base/buffer.h"

namespace http {

struct ConnectionLimits {
  ParserLimits parser;
  std::size_t max_body_bytes = 64u << 20;
  std::size_t output_high_watermark = 1u << 20;
};

class Connection {
 public:
  using Clock = std::chrono::steady_clock;

  // What the connection is waiting for; the owner maps each phase to its timeout.
  enum class Phase {
    kIdle,     // between requests, nothing of the next one received
    kHead,     // part of a request head received
    kBody,     // head complete, body still arriving
    kClosing,  // will close once output is written; reads are ignored
  };

  Connection(const ConnectionLimits& limits, Handler& handler, DateCache& dates) noexcept;
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  base::Buffer& input() noexcept { return input_; }
  base::Buffer& output() noexcept { return output_; }

  // Handles every complete request in input() that fits under the output watermark. `now` is when the
  // bytes arrived; it starts the clock of a request whose first bytes are among them.
  void process(Clock::time_point now);

  // The peer finished sending (read returned 0): complete requests are still answered, then it closes.
  void on_peer_closed(Clock::time_point now);
  // The phase's deadline passed: a request in progress is answered 408, then the connection closes.
  void on_timeout();
  // Graceful shutdown: an idle connection closes at once, a busy one after its current response.
  void begin_drain();

  Phase phase() const noexcept;
  bool should_close() const noexcept { return closing_; }
  // True when the close follows a refusal of a request whose body may still be on its way: the owner should
  // then close gracefully (half-close and drain) so the client reads the refusal rather than a reset.
  bool close_may_leave_unread_input() const noexcept { return refused_; }
  bool wants_input() const noexcept { return !closing_ && output_.size() < limits_.output_high_watermark; }
  // When the current request's first byte arrived (meaningful in kHead and kBody).
  Clock::time_point request_started() const noexcept { return request_start_; }

 private:
  enum class State { kHead, kBody, kChunkedBody };

  bool step(Clock::time_point now);  // one unit of progress; false when it must wait
  bool on_head_parsed(std::size_t head_bytes);
  void keep_head_bytes(std::size_t head_bytes);
  void dispatch();
  void refuse(int status, bool head_known);
  void finish_request(const Response& response, bool head_known);
  void reset_for_next_request(Clock::time_point finished);

  ConnectionLimits limits_;
  Handler& handler_;
  DateCache& dates_;
  base::Buffer input_;
  base::Buffer output_;

  State state_ = State::kHead;
  RequestHeadParser head_parser_{limits_.parser};
  RequestHead head_;
  std::string head_storage_;   // head bytes of a request whose body is still arriving
  std::string body_;
  std::optional<ChunkedDecoder> chunked_;
  std::uint64_t body_remaining_ = 0;
  std::size_t head_bytes_in_input_ = 0;  // head of a body-less request, consumed once it is answered
  bool request_active_ = false;  // on_request_begin called, on_request_end not yet
  bool request_clock_running_ = false;
  Clock::time_point request_start_{};
  bool closing_ = false;
  bool refused_ = false;
  bool peer_closed_ = false;
  bool draining_ = false;
};

}  // namespace http
