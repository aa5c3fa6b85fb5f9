#include "http/request_parser.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>

#include "base/text.h"
#include "http/head_chars.h"

namespace http {
namespace {

using base::equals_ignore_case;
using base::is_digit;
using base::is_ows;
using head_chars::has_class;
using head_chars::kTokenChar;

// A method is a short token; anything longer is not a request line (RFC 9110 9.1 registers none over 17).
constexpr std::size_t kMaxMethodBytes = 64;
// Offsets are kept in 32 bits, so no head may be longer (a limit beyond it acts as this one).
constexpr std::size_t kMaxHeadLimit = std::numeric_limits<std::uint32_t>::max();

std::string_view view(const char* base, std::size_t from, std::size_t to) noexcept { return {base + from, to - from}; }

// `seen` is a prefix of `scheme` (ASCII case-insensitive), or has all of it as a prefix.
bool agrees_with_scheme(std::string_view seen, std::string_view scheme) noexcept {
  const std::size_t n = std::min(seen.size(), scheme.size());
  return equals_ignore_case(seen.substr(0, n), scheme.substr(0, n));
}

}  // namespace

RequestHeadParser::RequestHeadParser(const ParserLimits& limits) noexcept : limits_(&limits) {}

void RequestHeadParser::reset() noexcept {
  examined_ = 0;
  s_ = State{};
}

ParseResult RequestHeadParser::parse(std::string_view buffer, RequestHead& out) noexcept {
  if (buffer.size() < s_.pos) reset();  // not the bytes this head began with: start over
  if (s_.phase != Phase::kComplete && s_.phase != Phase::kFailed) {
    const std::size_t head_limit = std::min(limits_->max_head_bytes, kMaxHeadLimit);
    const char* const base = buffer.data();
    const char* const end = base + std::min(buffer.size(), head_limit);
    // Each scan returns true when it has handed over to the next phase, false when it stops this call.
    switch (s_.phase) {
      case Phase::kLeadingLine:
      case Phase::kLeadingLf:
        if (!scan_leading_lines(base, end)) break;
        [[fallthrough]];
      case Phase::kMethod:
        if (!scan_method(base, end)) break;
        [[fallthrough]];
      case Phase::kTarget:
        if (!scan_target(base, end)) break;
        [[fallthrough]];
      case Phase::kVersion:
      case Phase::kVersionCr:
      case Phase::kVersionLf:
        if (!scan_version(base, end)) break;
        [[fallthrough]];
      case Phase::kFieldStart:
      case Phase::kFieldName:
      case Phase::kFieldValueStart:
      case Phase::kFieldValue:
      case Phase::kFieldLf:
      case Phase::kFinalLf:
        scan_fields(base, end);
        break;
      case Phase::kComplete:
      case Phase::kFailed:
        break;
    }
    if (s_.phase != Phase::kComplete && s_.phase != Phase::kFailed) {
      // Every byte under the limit is examined: more may come, or the bytes held prove the head too large.
      if (buffer.size() <= head_limit) return ParseResult{};
      fail(431, "request head too large");
    }
  }
  return deliver(buffer, out);
}

bool RequestHeadParser::fail(int status, std::string_view detail) noexcept {
  s_.verdict = ParseResult{};
  s_.verdict.status = ParseStatus::kError;
  s_.verdict.error_status = status;
  s_.verdict.error_detail = detail;
  s_.verdict.request_line_parsed = s_.phase >= Phase::kFieldStart && s_.phase <= Phase::kFinalLf;
  s_.phase = Phase::kFailed;
  return false;
}

bool RequestHeadParser::suspend(const char* base, const char* at) noexcept {
  s_.pos = static_cast<std::size_t>(at - base);
  return false;
}

std::size_t RequestHeadParser::request_line_limit() const noexcept {
  const std::size_t limit = limits_->max_request_line;
  return limit > SIZE_MAX - s_.request_start ? SIZE_MAX : s_.request_start + limit;
}

// RFC 9112 2.2: empty lines before the request line are skipped (robustness for old clients).
bool RequestHeadParser::scan_leading_lines(const char* base, const char* end) noexcept {
  const char* p = base + s_.pos;
  for (;;) {
    if (p == end) return suspend(base, p);
    ++examined_;
    const char c = *p;
    if (s_.phase == Phase::kLeadingLf) {
      if (c != '\n') return fail(400, "bare CR before request line");
      s_.phase = Phase::kLeadingLine;
    } else if (c == '\r') {
      s_.phase = Phase::kLeadingLf;
    } else if (c == '\n') {
      return fail(400, "bare LF before request line");
    } else {
      s_.request_start = static_cast<std::size_t>(p - base);
      s_.pos = s_.request_start;
      s_.phase = Phase::kMethod;
      return true;
    }
    ++p;
  }
}

bool RequestHeadParser::scan_method(const char* base, const char* end) noexcept {
  const std::size_t room = std::min(kMaxMethodBytes, limits_->max_request_line);
  const auto available = static_cast<std::size_t>(end - base);
  const char* const stop = base + std::min(available, s_.request_start + room);
  const char* const from = base + s_.pos;
  const char* p = from;
  while (p < stop && has_class(*p, kTokenChar)) ++p;
  examined_ += static_cast<std::size_t>(p - from);
  if (p == end) return suspend(base, p);
  ++examined_;
  // A token byte here is past a limit: the method is too long (over 64 bytes, or past the line limit).
  if (has_class(*p, kTokenChar)) return fail(400, "method too long");
  const bool at_start = p == base + s_.request_start;
  if (at_start && is_ows(*p)) return fail(400, "request line starts with whitespace");
  if (*p != ' ' || at_start) return fail(400, "invalid character in method");
  s_.method_end = static_cast<std::size_t>(p - base);
  if (s_.method_end - s_.request_start >= limits_->max_request_line) return fail(414, "request line too long");
  s_.method = method_from_token(view(base, s_.request_start, s_.method_end));
  s_.target_start = s_.method_end + 1;
  s_.pos = s_.target_start;
  s_.phase = Phase::kTarget;
  return true;
}

bool RequestHeadParser::scan_target(const char* base, const char* end) noexcept {
  const auto available = static_cast<std::size_t>(end - base);
  const char* const stop = base + std::min(available, request_line_limit());
  const char* const from = base + s_.pos;
  const char* p = from;
  for (;;) {
    p = head_chars::skip_target(p, stop);
    if (p == stop || *p != '?') break;
    if (s_.query_start == 0) s_.query_start = static_cast<std::size_t>(p + 1 - base);
    ++p;
  }
  examined_ += static_cast<std::size_t>(p - from);
  s_.pos = static_cast<std::size_t>(p - base);
  if (p != from && !check_target_prefix(base)) return false;
  if (p == end) return false;
  ++examined_;
  const char c = *p;
  if (p == stop && c != '\r' && c != '\n') return fail(414, "request line too long");
  if (c == ' ') {
    s_.target_end = s_.pos;
    s_.pos = s_.target_end + 1;
    return finish_target(base);
  }
  if (c == '\r' || c == '\n') return fail(400, "no HTTP version after the request-target");
  if (c == '#') return fail(400, "fragment in request-target");
  return fail(400, "invalid byte in request-target");
}

// Judges the target's first bytes as soon as they arrive: its form, "*" standing alone, a non-empty
// authority. Looks at no more than the first 8 bytes, and only until the form is known.
bool RequestHeadParser::check_target_prefix(const char* base) noexcept {
  if (s_.form == TargetForm::kUndecided) {
    const std::string_view seen = view(base, s_.target_start, std::min(s_.pos, s_.target_start + 8));
    examined_ += seen.size();
    if (seen.front() == '/') {
      s_.form = TargetForm::kOrigin;
    } else if (seen.front() == '*') {
      if (s_.method != Method::kOptions) return fail(400, "asterisk-form is only allowed for OPTIONS");
      s_.form = TargetForm::kAsterisk;
    } else {
      // absolute-form ("http://host/path") must be accepted from any client (RFC 9112 3.2.2).
      const bool http = agrees_with_scheme(seen, "http://");
      const bool https = agrees_with_scheme(seen, "https://");
      if (!http && !https) return fail(400, "request-target is not origin-form");
      const std::size_t scheme_length = http ? 7 : 8;
      if (seen.size() >= scheme_length) {
        s_.form = TargetForm::kAbsolute;
        s_.authority_start = s_.target_start + scheme_length;
      }
    }
  }
  if (s_.form == TargetForm::kAsterisk && s_.pos > s_.target_start + 1) {
    return fail(400, "request-target is not origin-form");
  }
  if (s_.form == TargetForm::kAbsolute && !s_.authority_checked && s_.pos > s_.authority_start) {
    ++examined_;
    const char first = base[s_.authority_start];
    if (first == '/' || first == '?') return fail(400, "absolute-form without authority");
    s_.authority_checked = true;
  }
  return true;
}

bool RequestHeadParser::finish_target(const char* base) noexcept {
  if (s_.form == TargetForm::kUndecided) return fail(400, "request-target is not origin-form");
  if (s_.form == TargetForm::kAbsolute) {
    if (s_.target_end == s_.authority_start) return fail(400, "absolute-form without authority");
    // The path starts at the first '/' after the authority; without one it is "/" (RFC 9110 4.2.3).
    const std::size_t path_end = s_.query_start != 0 ? s_.query_start - 1 : s_.target_end;
    const char* const authority = base + s_.authority_start;
    const std::size_t length = path_end - s_.authority_start;
    const auto* slash = static_cast<const char*>(std::memchr(authority, '/', length));
    examined_ += slash != nullptr ? static_cast<std::size_t>(slash - authority) + 1 : length;
    s_.path_start = slash != nullptr ? static_cast<std::size_t>(slash - base) : 0;
  }
  s_.phase = Phase::kVersion;
  return true;
}

// HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive, then CRLF.
bool RequestHeadParser::scan_version(const char* base, const char* end) noexcept {
  const char* p = base + s_.pos;
  const std::size_t line_limit = request_line_limit();
  if (s_.phase == Phase::kVersion) {
    constexpr std::string_view kTypical = "HTTP/1.1";
    constexpr std::string_view kPattern = "HTTP/D.D";
    const auto offset = static_cast<std::size_t>(p - base);
    if (s_.version_matched == 0 && end - p >= 8 && line_limit - offset >= kTypical.size() &&
        std::memcmp(p, kTypical.data(), kTypical.size()) == 0) {
      examined_ += kTypical.size();
      s_.version_major = '1';
      s_.version_minor = '1';
      p += kTypical.size();
    } else {
      for (; s_.version_matched < kPattern.size(); ++s_.version_matched, ++p) {
        if (p == end) return suspend(base, p);
        ++examined_;
        const char c = *p;
        if (static_cast<std::size_t>(p - base) >= line_limit && c != '\r' && c != '\n') {
          return fail(414, "request line too long");
        }
        const char expected = kPattern[s_.version_matched];
        if (expected == 'D' ? !is_digit(c) : c != expected) return fail(400, "malformed HTTP version");
        if (s_.version_matched == 5) s_.version_major = c;
        if (s_.version_matched == 7) s_.version_minor = c;
      }
    }
    s_.phase = Phase::kVersionCr;
  }
  if (s_.phase == Phase::kVersionCr) {
    if (p == end) return suspend(base, p);
    ++examined_;
    if (*p != '\r') return fail(400, *p == '\n' ? "bare LF in request line" : "malformed HTTP version");
    ++p;
    s_.phase = Phase::kVersionLf;
  }
  if (p == end) return suspend(base, p);
  ++examined_;
  if (*p != '\n') return fail(400, "bare CR in request line");
  if (s_.version_major != '1' || (s_.version_minor != '0' && s_.version_minor != '1')) {
    return fail(505, "HTTP version not supported");
  }
  s_.pos = static_cast<std::size_t>(p + 1 - base);
  s_.phase = Phase::kFieldStart;
  return true;
}

ParseResult RequestHeadParser::deliver(std::string_view buffer, RequestHead& out) const noexcept {
  const bool complete = s_.phase == Phase::kComplete;
  if (!complete && !s_.verdict.request_line_parsed) return s_.verdict;
  const char* const base = buffer.data();
  out.method = s_.method;
  out.method_token = view(base, s_.request_start, s_.method_end);
  out.target = view(base, s_.target_start, s_.target_end);
  const std::size_t path_end = s_.query_start != 0 ? s_.query_start - 1 : s_.target_end;
  switch (s_.form) {
    case TargetForm::kAbsolute:
      out.path = s_.path_start != 0 ? view(base, s_.path_start, path_end) : std::string_view("/");
      break;
    case TargetForm::kAsterisk:
      out.path = out.target;
      break;
    default:
      out.path = view(base, s_.target_start, path_end);
      break;
  }
  out.query = s_.query_start != 0 ? view(base, s_.query_start, s_.target_end) : std::string_view();
  out.version_minor = s_.version_minor - '0';

  const Facts& facts = s_.facts;
  out.has_content_length = facts.has_content_length;
  out.content_length = facts.content_length;
  out.chunked = complete && facts.transfer_encoding;
  out.keep_alive = out.version_minor == 1 ? !facts.connection_close
                                          : facts.connection_keep_alive && !facts.connection_close;
  out.expect_continue = facts.expect_continue;
  out.has_host = facts.has_host;
  for (std::size_t i = 0; i < s_.field_count; ++i) {
    const FieldSpans& field = fields_[i];
    out.headers[i] = Header{{base + field.name.offset, field.name.length}, {base + field.value.offset, field.value.length}};
  }
  out.header_count = s_.field_count;
  return s_.verdict;
}

ParseResult parse_request_head(std::string_view buffer, const ParserLimits& limits, RequestHead& out) noexcept {
  RequestHeadParser parser(limits);
  return parser.parse(buffer, out);
}

std::string_view RequestHead::header(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < header_count; ++i) {
    if (base::equals_ignore_case(headers[i].name, name)) return headers[i].value;
  }
  return {};
}

}  // namespace http
