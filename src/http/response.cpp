#include "http/response.h"

#include <charconv>
#include <cstring>

#include "http/http_date.h"

namespace http {

namespace {

// The whole status line of each status this server sends, so a response head starts with one copy;
// reason_phrase() reads its reason from here. Empty for any other status.
std::string_view known_status_line(int status) noexcept {
  switch (status) {
    case 100: return "HTTP/1.1 100 Continue\r\n";
    case 200: return "HTTP/1.1 200 OK\r\n";
    case 206: return "HTTP/1.1 206 Partial Content\r\n";
    case 304: return "HTTP/1.1 304 Not Modified\r\n";
    case 400: return "HTTP/1.1 400 Bad Request\r\n";
    case 401: return "HTTP/1.1 401 Unauthorized\r\n";
    case 404: return "HTTP/1.1 404 Not Found\r\n";
    case 405: return "HTTP/1.1 405 Method Not Allowed\r\n";
    case 408: return "HTTP/1.1 408 Request Timeout\r\n";
    case 411: return "HTTP/1.1 411 Length Required\r\n";
    case 412: return "HTTP/1.1 412 Precondition Failed\r\n";
    case 413: return "HTTP/1.1 413 Content Too Large\r\n";
    case 414: return "HTTP/1.1 414 URI Too Long\r\n";
    case 416: return "HTTP/1.1 416 Range Not Satisfiable\r\n";
    case 417: return "HTTP/1.1 417 Expectation Failed\r\n";
    case 421: return "HTTP/1.1 421 Misdirected Request\r\n";
    case 431: return "HTTP/1.1 431 Request Header Fields Too Large\r\n";
    case 500: return "HTTP/1.1 500 Internal Server Error\r\n";
    case 501: return "HTTP/1.1 501 Not Implemented\r\n";
    case 503: return "HTTP/1.1 503 Service Unavailable\r\n";
    case 505: return "HTTP/1.1 505 HTTP Version Not Supported\r\n";
    case 507: return "HTTP/1.1 507 Insufficient Storage\r\n";
    default: return {};
  }
}

constexpr std::size_t kStatusLinePrefixBytes = 13;  // "HTTP/1.1 200 "

}  // namespace

std::string_view reason_phrase(int status) noexcept {
  const std::string_view line = known_status_line(status);
  if (line.empty()) return "Unknown";
  return line.substr(kStatusLinePrefixBytes, line.size() - kStatusLinePrefixBytes - 2);
}

std::string_view error_body(int status) noexcept {
  switch (status) {
    case 400: return R"({"error": "bad request"})";
    case 401: return R"({"error": "unauthorized"})";
    case 404: return R"({"error": "not found"})";
    case 405: return R"({"error": "method not allowed"})";
    case 408: return R"({"error": "request timeout"})";
    case 411: return R"({"error": "length required"})";
    case 412: return R"({"error": "precondition failed"})";
    case 413: return R"({"error": "content too large"})";
    case 414: return R"({"error": "uri too long"})";
    case 416: return R"({"error": "range not satisfiable"})";
    case 417: return R"({"error": "expectation failed"})";
    case 421: return R"({"error": "misdirected request"})";
    case 431: return R"({"error": "request header fields too large"})";
    case 501: return R"({"error": "not implemented"})";
    case 503: return R"({"error": "service unavailable"})";
    case 505: return R"({"error": "http version not supported"})";
    case 507: return R"({"error": "insufficient storage"})";
    default: return R"({"error": "internal server error"})";
  }
}

Response Response::error(int status) {
  Response response;
  response.status = status;
  response.content_type = kJsonContentType;
  response.body = error_body(status);
  return response;
}

std::string_view DateCache::get(std::time_t now) noexcept {
  if (now != cached_second_) {
    length_ = format_http_date(now, text_).size();
    cached_second_ = now;
  }
  return {text_, length_};
}

namespace {

class HeadWriter {
 public:
  explicit HeadWriter(char* start) noexcept : p_(start) {}
  HeadWriter& operator<<(std::string_view text) noexcept {
    const std::size_t n = text.size();
    const char* const from = text.data();
    // The pieces of a head are short (a date, a tag, a type): each is copied as two overlapping words in
    // place, not by a call to memcpy, which makes the same choice out of line.
    if (n >= 16 && n <= 32) {
      copy_word<16>(from);
      copy_word<16>(from + n - 16, n - 16);
    } else if (n >= 8 && n < 16) {
      copy_word<8>(from);
      copy_word<8>(from + n - 8, n - 8);
    } else if (n >= 4 && n < 8) {
      copy_word<4>(from);
      copy_word<4>(from + n - 4, n - 4);
    } else if (n != 0) {  // an empty view may carry a null pointer, which memcpy must not get
      std::memcpy(p_, from, n);
    }
    p_ += n;
    return *this;
  }
  HeadWriter& operator<<(std::size_t number) noexcept {
    p_ = std::to_chars(p_, p_ + 20, number).ptr;
    return *this;
  }
  char* end() const noexcept { return p_; }

 private:
  template <std::size_t kBytes>
  void copy_word(const char* from, std::size_t at = 0) noexcept {
    char word[kBytes];
    std::memcpy(word, from, kBytes);
    std::memcpy(p_ + at, word, kBytes);
  }

  char* p_;
};

// Everything but the status line, date, content type and allow value has a fixed upper size.
constexpr std::size_t kFixedHeadBytes = 320;

}  // namespace

bool serialize_response(const Response& response, const SerializeOptions& options, std::string_view date,
                        OutputQueue& out) noexcept {
  const std::string_view status_line = known_status_line(response.status);
  const bool not_modified = response.status == 304;
  const bool send_body = !options.head_request && !not_modified && !response.body.empty();
  const bool share_body = send_body && response.body_owner && response.body.size() >= kShareBodiesFrom;
  const std::size_t head_bound = kFixedHeadBytes + status_line.size() + date.size() + response.content_type.size() +
                                 response.allow.size() + response.etag.size() + response.last_modified.size() +
                                 response.content_range.size() + response.www_authenticate.size() +
                                 options.request_id_name.size() + options.request_id_value.size() + 4;
  const std::size_t copied_body = send_body && !share_body ? response.body.size() : 0;
  // Both are made sure of before anything is queued: a head without its body would break the framing.
  if (share_body && !out.reserve_shared_slice()) return false;
  std::span<char> space = out.writable(head_bound + copied_body);
  if (space.empty()) return false;

  HeadWriter w(space.data());
  if (!status_line.empty()) {
    w << status_line;
  } else {
    w << "HTTP/1.1 " << static_cast<std::size_t>(response.status) << " Unknown\r\n";
  }
  w << "Date: " << date << "\r\n";
  if (!not_modified) w << "Content-Length: " << response.body.size() << "\r\n";
  if (!response.content_type.empty()) w << "Content-Type: " << response.content_type << "\r\n";
  if (!response.etag.empty()) w << "ETag: " << response.etag << "\r\n";
  if (!response.last_modified.empty()) w << "Last-Modified: " << response.last_modified << "\r\n";
  if (response.accept_ranges) w << "Accept-Ranges: bytes\r\n";
  if (!response.content_range.empty()) w << "Content-Range: " << response.content_range << "\r\n";
  if (!response.www_authenticate.empty()) w << "WWW-Authenticate: " << response.www_authenticate << "\r\n";
  if (!response.allow.empty()) w << "Allow: " << response.allow << "\r\n";
  if (response.retry_after_seconds != 0) {
    w << "Retry-After: " << static_cast<std::size_t>(response.retry_after_seconds) << "\r\n";
  }
  if (!options.request_id_name.empty()) w << options.request_id_name << ": " << options.request_id_value << "\r\n";
  if (options.close) {
    w << "Connection: close\r\n";
  } else if (options.keep_alive_header) {
    w << "Connection: keep-alive\r\n";
  }
  w << "\r\n";
  if (copied_body != 0) w << response.body;
  out.commit(static_cast<std::size_t>(w.end() - space.data()));
  if (share_body) out.append_reserved_shared(response.body_owner, response.body);
  return true;
}

}  // namespace http
