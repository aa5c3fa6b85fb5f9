#include "http/request_id.h"

#include <cstring>

#include "base/text.h"

namespace http {

namespace {

constexpr bool is_lower_hex(char c) noexcept { return base::is_digit(c) || (c >= 'a' && c <= 'f'); }

// `count` lowercase hex digits at `text`; `nonzero` is cleared unless one of them is not '0'.
bool lower_hex_run(const char* text, std::size_t count, bool* nonzero) noexcept {
  bool any = false;
  for (std::size_t i = 0; i < count; ++i) {
    if (!is_lower_hex(text[i])) return false;
    any = any || text[i] != '0';
  }
  if (nonzero != nullptr) *nonzero = any;
  return true;
}

constexpr bool is_request_id_char(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || base::is_digit(c)) return true;
  switch (c) {
    case '-': case '_': case '.': case ':': case '+': case '/': case '=':
      return true;
    default:
      return false;
  }
}

// Field names compared the way the parser delivers them: case preserved, so ASCII case-insensitively.
bool name_is(std::string_view name, std::string_view lower) noexcept {
  return name.size() == lower.size() && base::equals_ignore_case(name, lower);
}

}  // namespace

bool parse_traceparent(std::string_view value, TraceParent& out) noexcept {
  // version "-" trace-id "-" parent-id "-" trace-flags: 2 + 1 + 32 + 1 + 16 + 1 + 2.
  if (value.size() < kTraceparentBytes) return false;
  const char* p = value.data();
  if (!lower_hex_run(p, 2, nullptr) || (p[0] == 'f' && p[1] == 'f')) return false;
  const bool version_00 = p[0] == '0' && p[1] == '0';
  // Version 00 is exactly 55 characters; a later version may append fields after another '-'.
  if (version_00 ? value.size() != kTraceparentBytes : value.size() > kTraceparentBytes && p[55] != '-') {
    return false;
  }
  if (p[2] != '-' || p[35] != '-' || p[52] != '-') return false;
  bool trace_nonzero = false;
  bool parent_nonzero = false;
  if (!lower_hex_run(p + 3, kTraceIdHexDigits, &trace_nonzero) || !trace_nonzero) return false;
  if (!lower_hex_run(p + 36, kSpanIdHexDigits, &parent_nonzero) || !parent_nonzero) return false;
  if (!lower_hex_run(p + 53, 2, nullptr)) return false;
  std::memcpy(out.trace_id, p + 3, kTraceIdHexDigits);
  std::memcpy(out.parent_id, p + 36, kSpanIdHexDigits);
  std::memcpy(out.flags, p + 53, 2);
  return true;
}

bool is_valid_request_id(std::string_view value) noexcept {
  if (value.empty() || value.size() > kMaxRequestIdBytes) return false;
  for (const char c : value) {
    if (!is_request_id_char(c)) return false;
  }
  return true;
}

std::uint64_t RequestIdGenerator::next() noexcept {
  // splitmix64: one add and three multiply-xorshift rounds, statistically sound for ids (not a secret).
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

void RequestIdGenerator::hex(char* out, std::size_t digits) noexcept {
  for (;;) {
    std::uint64_t any = 0;
    for (std::size_t word = 0; word < digits / 16; ++word) {
      std::uint64_t bits = next();
      any |= bits;
      for (std::size_t i = 16; i-- > 0; bits >>= 4) out[word * 16 + i] = base::kLowerHexDigits[bits & 0xf];
    }
    if (any != 0) return;  // W3C ids must not be all zeros: draw again (once in 2^64 draws)
  }
}

void RequestId::assign(const RequestHead& head, RequestIdGenerator& generator) noexcept {
  std::string_view traceparent;
  std::string_view request_id;
  int traceparents = 0;
  for (std::size_t i = 0; i < head.header_count; ++i) {
    const Header& field = head.headers[i];
    // Most fields differ in length from both names: one comparison each.
    if (field.name.size() == 11 && name_is(field.name, "traceparent")) {
      traceparent = field.value;
      ++traceparents;
    } else if (field.name.size() == 12 && request_id.empty() && name_is(field.name, "x-request-id")) {
      request_id = field.value;
    }
  }

  TraceParent parent;
  if (traceparents == 1 && parse_traceparent(traceparent, parent)) {
    source_ = RequestIdSource::kTraceparent;
    length_ = static_cast<std::uint8_t>(kTraceIdHexDigits);
    std::memcpy(id_, parent.trace_id, kTraceIdHexDigits);
    char* out = traceparent_;
    std::memcpy(out, "00-", 3);
    std::memcpy(out + 3, parent.trace_id, kTraceIdHexDigits);
    out[35] = '-';
    generator.hex(out + 36, kSpanIdHexDigits);
    out[52] = '-';
    std::memcpy(out + 53, parent.flags, 2);
    return;
  }
  if (is_valid_request_id(request_id)) {
    source_ = RequestIdSource::kHeader;
    length_ = static_cast<std::uint8_t>(request_id.size());
    std::memcpy(id_, request_id.data(), request_id.size());
    return;
  }
  source_ = RequestIdSource::kGenerated;
  length_ = static_cast<std::uint8_t>(kTraceIdHexDigits);
  generator.hex(id_, kTraceIdHexDigits);
}

std::string_view RequestId::field_name() const noexcept {
  switch (source_) {
    case RequestIdSource::kNone: return {};
    case RequestIdSource::kTraceparent: return "traceparent";
    case RequestIdSource::kHeader:
    case RequestIdSource::kGenerated: return "X-Request-Id";
  }
  return {};
}

std::string_view RequestId::field_value() const noexcept {
  if (source_ == RequestIdSource::kTraceparent) return {traceparent_, kTraceparentBytes};
  return text();
}

}  // namespace http
