#pragma once
// RequestHead: the parsed request line and header section of one HTTP/1.x request.
// Every string_view points into the caller's receive buffer; a RequestHead is valid only while those
// bytes are neither consumed nor moved. It owns nothing and never allocates.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/method.h"

namespace http {

struct Header {
  std::string_view name;   // as received (case preserved); compare case-insensitively
  std::string_view value;  // leading and trailing OWS stripped
};

inline constexpr std::size_t kMaxHeaders = 64;

struct RequestHead {
  Method method = Method::kUnknown;
  std::string_view method_token;
  std::string_view target;  // request-target exactly as received
  std::string_view path;    // target up to (excluding) '?'
  std::string_view query;   // after '?', without it; empty when absent
  int version_minor = 1;    // HTTP/1.<version_minor>; only 0 and 1 are accepted

  // Message framing and connection facts derived from the headers (RFC 9112 6, 9.3).
  bool has_content_length = false;
  std::uint64_t content_length = 0;
  bool chunked = false;          // Transfer-Encoding: chunked (the only coding accepted)
  bool keep_alive = true;        // 1.1 default on unless "close"; 1.0 only with "keep-alive"
  bool expect_continue = false;  // Expect: 100-continue
  bool has_host = false;

  std::array<Header, kMaxHeaders> headers{};
  std::size_t header_count = 0;

  // True when a body follows the head (Content-Length > 0 or chunked).
  bool has_body() const noexcept { return chunked || (has_content_length && content_length > 0); }
  // First header with this name (ASCII case-insensitive), or empty view.
  std::string_view header(std::string_view name) const noexcept;
};

}  // namespace http
