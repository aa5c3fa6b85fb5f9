#pragma once
// Response: what a handler answers, and its serialisation into HTTP/1.1 bytes.
//
// A Response only points at its body; `body_owner` keeps stored bytes alive (and charged to the store's
// cap) when the body is a bucket's value, so answering a GET copies the bytes once, into the connection's
// output buffer. Every serialised
// response carries Date and Content-Length (for HEAD the length of the body it omits), Connection: close
// when the connection will close, and Connection: keep-alive when an HTTP/1.0 client asked to keep it.
#include <ctime>
#include <string>
#include <string_view>

#include "base/buffer.h"
#include "base/shared_bytes.h"

namespace http {

inline constexpr std::string_view kJsonContentType = "application/json";
inline constexpr std::string_view kOctetStreamContentType = "application/octet-stream";

struct Response {
  int status = 200;
  std::string_view content_type;  // no Content-Type header when empty
  std::string_view body;
  base::SharedBytes body_owner;
  std::string_view allow;  // Allow header (405) when not empty
  bool close = false;      // the handler wants the connection closed after this response

  // A JSON error in the old service's shape: {"error": "not found"}.
  static Response error(int status);
};

std::string_view reason_phrase(int status) noexcept;
std::string_view error_body(int status) noexcept;  // {"error": "<reason in lower case>"}

// The IMF-fixdate for the Date header, formatted at most once per second.
class DateCache {
 public:
  std::string_view get(std::time_t now) noexcept;

 private:
  std::time_t cached_second_ = -1;
  char text_[32] = {};
  std::size_t length_ = 0;
};

struct SerializeOptions {
  bool head_request = false;      // omit the body, keep its Content-Length
  bool close = false;             // add Connection: close
  bool keep_alive_header = false; // add Connection: keep-alive (HTTP/1.0 persistent connection)
};

void serialize_response(const Response& response, const SerializeOptions& options, std::string_view date,
                        base::Buffer& out);

// "HTTP/1.1 100 Continue\r\n\r\n"
inline constexpr std::string_view kContinueResponse = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace http
