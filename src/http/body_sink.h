#pragma once
// BodySink: where a request body goes as it is decoded. The connection's sink charges every announced byte
// to the memory budget before any of them is read, and asks the handler whether the body may grow (a store
// that cannot take it answers 507 before its bytes arrive), so neither a Content-Length body nor a chunked
// one can make the process hold bytes no budget has agreed to.
#include <cstdint>
#include <string_view>

namespace http {

class BodySink {
 public:
  // `bytes` more body bytes have been announced (a chunk's size; for Content-Length the whole length, once).
  // 0 to go on, or the HTTP status to refuse the request with (413, 503 or 507); the caller then stops.
  virtual int reserve(std::uint64_t bytes) noexcept = 0;
  // Decoded body bytes, never more in total than reserve() agreed to.
  virtual void append(std::string_view bytes) noexcept = 0;

 protected:
  ~BodySink() = default;
};

}  // namespace http
