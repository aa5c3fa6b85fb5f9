#pragma once
// Handler: what a Connection calls for each request. One instance serves one listener of one event-loop
// thread, so an implementation may keep per-thread scratch state and metric shards without locks.
//
// Per parsed request head the connection calls, in order: on_request_begin() once; admit_body() before any
// body byte is read (once for a Content-Length body, once per chunk with the running total for a chunked
// one), unless the connection refused the request itself; handle() once the whole body has arrived; and
// on_request_end() exactly once when the request is answered or abandoned (peer gone, timeout).
// on_response() is called for every final response, including refusals before a head could be parsed.
//
// handle() answers at once by filling `response`, or later: it calls deferrer.defer() and keeps the
// PendingResponse, whose complete() answers from another event on the same loop thread (a timer, a
// posted task). Responses leave in request order: while an answer is pending, the connection reads no
// further request. A handler must complete every deferred response; one the connection can no longer
// send (the peer left, shutdown's grace ran out) is dropped by complete().
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "base/shared_bytes.h"
#include "http/request.h"
#include "http/request_id.h"
#include "http/response.h"

namespace http {

class Connection;

inline constexpr std::uint32_t kNoTag = UINT32_MAX;
// A deferred response's record keeps at most this much of its target (for the access log).
inline constexpr std::size_t kRecordedTargetBytes = 256;

// Why the connection itself refused a request, for the refusal counters.
enum class Refusal : std::uint8_t {
  kNone,
  kMalformed,         // 400, 414, 417, 431, 501, 505 from the parser or the chunked decoder
  kHeadTimeout,       // 408: the head took longer than the header timeout
  kBodyTimeout,       // 408: the body paused too long or arrived too slowly
  kBodyTooLarge,      // 413
  kBodyBudget,        // 503: the in-flight body budget is spent
  kBufferBudget,      // 503: the connection buffer budget is spent
  kAllocationFailed,  // 503: the allocator refused while serving the request
};

// What a finished exchange looked like, for metrics and the access log.
struct ResponseRecord {
  int status = 0;
  Method method = Method::kUnknown;
  std::string_view method_token;  // empty when the request line could not be parsed
  std::string_view target;        // as received (cut to kRecordedTargetBytes for a deferred response)
  std::string_view path;          // empty for a deferred response: its tag names the route
  std::uint32_t tag = kNoTag;     // on_request_begin()'s answer, when it was called
  const RequestId* request_id = nullptr;  // the id returned on the response (request_id.h); null when none
  bool request_line_parsed = false;
  Refusal refusal = Refusal::kNone;
  std::chrono::steady_clock::time_point started;  // when the request's first byte arrived
};

namespace detail {
struct PendingSlot;
}

class PendingResponse {
 public:
  PendingResponse() noexcept = default;
  // Answers the deferred request (on the connection's loop thread). Does nothing when the connection has
  // gone or was already answered.
  void complete(const Response& response) noexcept;
  // False once the connection is gone: completing is then pointless (but harmless).
  bool connection_alive() const noexcept;
  explicit operator bool() const noexcept { return slot_ != nullptr; }

 private:
  friend class Connection;
  explicit PendingResponse(std::shared_ptr<detail::PendingSlot> slot) noexcept : slot_(std::move(slot)) {}
  std::shared_ptr<detail::PendingSlot> slot_;
};

class Deferrer {
 public:
  // The request will be answered through the returned handle; the `response` given to handle() is ignored.
  virtual PendingResponse defer() = 0;

 protected:
  ~Deferrer() = default;
};

class Handler {
 public:
  virtual ~Handler() = default;

  virtual std::uint32_t on_request_begin(const RequestHead& head) = 0;
  // `body_bytes` announced so far; true to go on, or false with `refusal` filled in to answer instead (the
  // connection then closes: the unread body cannot be trusted as a next request).
  virtual bool admit_body(const RequestHead& head, std::uint64_t body_bytes, Response& refusal) = 0;
  // `body` holds the complete decoded body, charged to the in-flight body budget; the handler may move it
  // out (into the store). Whatever is left is freed after the call.
  virtual void handle(const RequestHead& head, base::ByteBuilder& body, Response& response, Deferrer& deferrer) = 0;
  virtual void on_request_end() = 0;
  virtual void on_response(const ResponseRecord& record) = 0;
};

}  // namespace http
