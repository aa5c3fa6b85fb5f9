#include "http/request_id.h"

#include <cstring>

#include "base/text.h"

namespace http {

namespace {

// Eight bytes at a time (SWAR): every request with a traceparent checks 52 hex digits, and every request
// without an id gets 32 new ones.
std::uint64_t load8(const char* text) noexcept {
  std::uint64_t word;
  std::memcpy(&word, text, sizeof word);
  return word;
}

constexpr std::uint64_t kEachByte = 0x0101010101010101u;

// True when all eight bytes are '0'-'9' or 'a'-'f'. Below 0x80 a byte plus (0x80 - c) sets its top bit
// exactly when the byte is at least c, and never carries into its neighbour.
bool lower_hex8(std::uint64_t word) noexcept {
  constexpr std::uint64_t kHigh = 0x80 * kEachByte;
  if ((word & kHigh) != 0) return false;
  const auto at_least = [word](std::uint64_t c) noexcept { return (word + (0x80 - c) * kEachByte) & kHigh; };
  const std::uint64_t digit = at_least('0') & ~at_least('9' + 1);
  const std::uint64_t letter = at_least('a') & ~at_least('f' + 1);
  return (digit | letter) == kHigh;
}

// `count` (a multiple of 8, or 2) lowercase hex digits at `text`; `nonzero` tells whether one is not '0'.
bool lower_hex_run(const char* text, std::size_t count, bool* nonzero) noexcept {
  if (count == 2) {
    // Two bytes only (the flags end the value): the other six are '0's.
    const std::uint64_t pair = static_cast<unsigned char>(text[0]) | (std::uint64_t{static_cast<unsigned char>(text[1])} << 8) |
                               0x3030303030300000u;
    if (nonzero != nullptr) *nonzero = pair != 0x3030303030303030u;
    return lower_hex8(pair);
  }
  bool any = false;
  for (std::size_t i = 0; i < count; i += 8) {
    const std::uint64_t word = load8(text + i);
    if (!lower_hex8(word)) return false;
    any = any || word != 0x3030303030303030u;
  }
  if (nonzero != nullptr) *nonzero = any;
  return true;
}

// Eight lowercase hex digits of `value`, most significant first.
void hex8(std::uint32_t value, char* out) noexcept {
  std::uint64_t x = value;
  // Spread the nibbles one per byte, the lowest nibble in the lowest byte.
  x = ((x & 0xffff0000u) << 16) | (x & 0x0000ffffu);
  x = ((x & 0x0000ff000000ff00u) << 8) | (x & 0x000000ff000000ffu);
  x = ((x & 0x00f000f000f000f0u) << 4) | (x & 0x000f000f000f000fu);
  // Nibbles 10-15 become 'a'-'f': one more bit per byte above 9, times the gap between '9' + 1 and 'a'.
  const std::uint64_t letters = ((x + 6 * kEachByte) >> 4) & kEachByte;
  x += '0' * kEachByte + letters * ('a' - '9' - 1);
  x = __builtin_bswap64(x);  // the most significant digit first in memory (little-endian)
  std::memcpy(out, &x, sizeof x);
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
      const std::uint64_t bits = next();
      any |= bits;
      hex8(static_cast<std::uint32_t>(bits >> 32), out + word * 16);
      hex8(static_cast<std::uint32_t>(bits), out + word * 16 + 8);
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

  std::memset(id_, 0, sizeof id_);
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
