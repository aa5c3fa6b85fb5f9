#pragma once
// RequestId: the id a request is known by in the access log, in the metrics' exemplars and on its response.
//
// Taken from the request when it carries a valid one, else generated:
//  - a W3C Trace Context `traceparent` (https://www.w3.org/TR/trace-context/ 3.2): version 2 lowercase hex
//    digits, not ff; for version 00 exactly "00-<32 hex trace-id>-<16 hex parent-id>-<2 hex flags>", for a
//    later version at least that much, followed by '-' if longer; lowercase hex only, and neither id all
//    zeros. The id is the trace-id, and the response carries `traceparent: 00-<trace-id>-<our span id>-
//    <flags>`, our span being this server's part of the trace. A request with two traceparent fields has
//    none (the specification's rule for an ambiguous parent);
//  - else an `X-Request-Id` of 1 to kMaxRequestIdBytes characters from [A-Za-z0-9-_.:+/=] (safe in a log
//    line, a header and a label value), echoed as is;
//  - else 32 random lowercase hex digits (a valid W3C trace-id), returned in `X-Request-Id`.
// Sans-I/O and allocation-free; RequestIdGenerator is a per-event-loop generator (splitmix64), seeded at
// start-up and never shared between threads.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "http/request.h"

namespace http {

inline constexpr std::size_t kMaxRequestIdBytes = 40;
inline constexpr std::size_t kTraceIdHexDigits = 32;
inline constexpr std::size_t kSpanIdHexDigits = 16;
inline constexpr std::size_t kTraceparentBytes = 55;  // version 00

struct TraceParent {
  char trace_id[kTraceIdHexDigits];
  char parent_id[kSpanIdHexDigits];
  char flags[2];
};

// A traceparent field value, checked as described above.
bool parse_traceparent(std::string_view value, TraceParent& out) noexcept;
bool is_valid_request_id(std::string_view value) noexcept;

class RequestIdGenerator {
 public:
  explicit RequestIdGenerator(std::uint64_t seed) noexcept : state_(seed) {}
  std::uint64_t next() noexcept;
  void hex(char* out, std::size_t digits) noexcept;  // digits a multiple of 16, never all zeros

 private:
  std::uint64_t state_;
};

enum class RequestIdSource : std::uint8_t { kNone, kTraceparent, kHeader, kGenerated };

class RequestId {
 public:
  // From the head's fields, or generated; replaces whatever the id held.
  void assign(const RequestHead& head, RequestIdGenerator& generator) noexcept;
  void clear() noexcept {
    source_ = RequestIdSource::kNone;
    id_[0] = '\0';
  }

  RequestIdSource source() const noexcept { return source_; }
  bool empty() const noexcept { return source_ == RequestIdSource::kNone; }
  // The id: the trace-id, the X-Request-Id value, or the generated digits.
  std::string_view text() const noexcept { return empty() ? std::string_view() : std::string_view(id_, length_); }
  // The same bytes followed by zeros up to kMaxRequestIdBytes (all zeros when empty): what an exemplar
  // slot stores, copied with fixed-size moves rather than a variable-length copy.
  std::span<const char, kMaxRequestIdBytes> padded() const noexcept { return std::span<const char, kMaxRequestIdBytes>(id_); }
  // The response field that returns it ("traceparent" or "X-Request-Id"), and its value; empty when none.
  std::string_view field_name() const noexcept;
  std::string_view field_value() const noexcept;

 private:
  RequestIdSource source_ = RequestIdSource::kNone;
  std::uint8_t length_ = 0;
  char id_[kMaxRequestIdBytes] = {};
  char traceparent_[kTraceparentBytes] = {};  // the response's, with our span id
};

}  // namespace http
