#pragma once
// Response: what a handler answers, and its serialisation into HTTP/1.1 bytes.
//
// A Response only points at its body. When `body_owner` holds the body's bytes (a stored value), a large
// body is queued as a slice of those bytes and sent from them, never copied; smaller ones are copied next
// to the head, which is cheaper than a second iovec. Every serialised response carries Date and
// Content-Length (for HEAD the length of the body it omits), Connection: close when the connection will
// close, Connection: keep-alive when an HTTP/1.0 client asked to keep it, and Retry-After when set.
// A 304 carries neither Content-Length nor a body (RFC 9110 15.4.5): its length would have to be the one a
// 200 would send, which the head alone does not know.
#include <cstdint>
#include <ctime>
#include <string_view>

#include "base/shared_bytes.h"
#include "http/http_date.h"
#include "http/output_queue.h"

namespace http {

inline constexpr std::string_view kJsonContentType = "application/json";
inline constexpr std::string_view kOctetStreamContentType = "application/octet-stream";

struct Response {
  int status = 200;
  std::string_view content_type;  // no Content-Type header when empty
  std::string_view body;
  base::SharedBytes body_owner;  // when set, `body` lies within its bytes
  std::string_view allow;  // Allow header (405) when not empty
  std::uint32_t retry_after_seconds = 0;  // Retry-After header (503) when not 0
  // Object headers, each sent when not empty.
  std::string_view etag;              // ETag, the quoted entity-tag
  std::string_view last_modified;     // Last-Modified, an IMF-fixdate
  std::string_view content_range;     // Content-Range (206, 416)
  std::string_view www_authenticate;  // WWW-Authenticate (401)
  bool accept_ranges = false;         // Accept-Ranges: bytes
  bool close = false;      // the handler wants the connection closed after this response

  // A JSON error in the old service's shape: {"error": "not found"}.
  static Response error(int status);
};

std::string_view reason_phrase(int status) noexcept;
std::string_view error_body(int status) noexcept;  // {"error": "<reason in lower case>"}

// The IMF-fixdate for the Date header, formatted at most once per second. The owner of the clock (the
// server) updates it; connections only read it.
class DateCache {
 public:
  std::string_view get(std::time_t now) noexcept;
  void update(std::time_t now) noexcept { (void)get(now); }
  std::string_view current() const noexcept { return {text_, length_}; }

 private:
  std::time_t cached_second_ = -1;
  char text_[kHttpDateBytes] = {};
  std::size_t length_ = 0;
};

struct SerializeOptions {
  bool head_request = false;      // omit the body, keep its Content-Length
  bool close = false;             // add Connection: close
  bool keep_alive_header = false; // add Connection: keep-alive (HTTP/1.0 persistent connection)
  // The request id's field (traceparent or X-Request-Id), added when the name is not empty.
  std::string_view request_id_name;
  std::string_view request_id_value;
};

// Bodies from a body_owner at least this large are queued as shared slices instead of copied.
inline constexpr std::size_t kShareBodiesFrom = 16 * 1024;

// Appends the response to `out`; false (nothing appended) when the output's account or the allocator
// refuses the bytes.
[[nodiscard]] bool serialize_response(const Response& response, const SerializeOptions& options,
                                      std::string_view date, OutputQueue& out) noexcept;

// "HTTP/1.1 100 Continue\r\n\r\n"
inline constexpr std::string_view kContinueResponse = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace http
