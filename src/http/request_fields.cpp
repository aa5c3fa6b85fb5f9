// RequestHeadParser's field lines: scanned as they arrive, each judged when its CRLF does, and the header
// section as a whole once the blank line is in (see request_parser.h for the rules).
#include "http/request_parser.h"

#include <cstdint>
#include <string_view>

#include "base/text.h"
#include "http/field_syntax.h"
#include "http/head_chars.h"

namespace http {
namespace {

using base::equals_ignore_case;
using base::is_ows;
using head_chars::has_class;
using head_chars::kTokenChar;

std::string_view view(const char* base, std::size_t from, std::size_t to) noexcept { return {base + from, to - from}; }

// A field name (a token) equals `known` (lowercase letters and '-') ignoring case. For token characters,
// setting bit 0x20 maps exactly the letters to lowercase and leaves '-' alone, so one OR per byte does.
bool name_is(std::string_view name, std::string_view known) noexcept {
  if (name.size() != known.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if ((name[i] | 0x20) != known[i]) return false;
  }
  return true;
}

}  // namespace

// Field lines, each judged as soon as its CRLF arrives; the blank line ends the head.
bool RequestHeadParser::scan_fields(const char* base, const char* end) noexcept {
  const char* p = base + s_.pos;
  // Counts the bytes a scanning loop passed, plus the one it stopped at, if any.
  const auto count_scan = [&](const char* from) noexcept {
    examined_ += static_cast<std::size_t>(p - from) + (p < end ? 1 : 0);
  };
  for (;;) {
    switch (s_.phase) {
      case Phase::kFieldStart: {
        if (p == end) return suspend(base, p);
        ++examined_;
        const char c = *p;
        if (c == '\r') {
          ++p;
          s_.phase = Phase::kFinalLf;
          break;
        }
        if (s_.field_count == kMaxHeaders) return fail(431, "too many header fields");
        if (!has_class(c, kTokenChar)) {
          if (c == ':') return fail(400, "empty field name");
          if (is_ows(c)) return fail(400, "obs-fold or whitespace before field name");
          return fail(400, c == '\n' ? "bare LF in header section" : "invalid character in field name");
        }
        s_.line_start = static_cast<std::size_t>(p - base);
        ++p;
        s_.phase = Phase::kFieldName;
        [[fallthrough]];
      }
      case Phase::kFieldName: {
        const char* const from = p;
        while (p < end && has_class(*p, kTokenChar)) ++p;
        count_scan(from);
        if (p == end) return suspend(base, p);
        if (*p != ':') {
          if (*p == '\n') return fail(400, "bare LF in header section");
          if (is_ows(*p)) return fail(400, "whitespace between field name and colon");
          return fail(400, "invalid character in field name");
        }
        s_.name_end = static_cast<std::size_t>(p - base);
        ++p;
        s_.phase = Phase::kFieldValueStart;
        [[fallthrough]];
      }
      case Phase::kFieldValueStart: {
        const char* const from = p;
        while (p < end && is_ows(*p)) ++p;
        count_scan(from);
        if (p == end) return suspend(base, p);
        s_.value_start = static_cast<std::size_t>(p - base);
        s_.phase = Phase::kFieldValue;
        [[fallthrough]];
      }
      case Phase::kFieldValue: {
        const char* const from = p;
        p = head_chars::skip_field_value(p, end);
        count_scan(from);
        if (p == end) return suspend(base, p);
        if (*p != '\r') return fail(400, *p == '\n' ? "bare LF in header section" : "invalid byte in field value");
        s_.value_end = static_cast<std::size_t>(p - base);
        ++p;
        s_.phase = Phase::kFieldLf;
        [[fallthrough]];
      }
      case Phase::kFieldLf:
        if (p == end) return suspend(base, p);
        ++examined_;
        if (*p != '\n') return fail(400, "bare CR in header section");
        ++p;
        if (!finish_field(base)) return false;
        s_.phase = Phase::kFieldStart;
        break;
      case Phase::kFinalLf:
        if (p == end) return suspend(base, p);
        ++examined_;
        if (*p != '\n') return fail(400, "bare CR in header section");
        s_.pos = static_cast<std::size_t>(p + 1 - base);
        return judge();
      default:
        return false;
    }
  }
}

bool RequestHeadParser::finish_field(const char* base) noexcept {
  std::size_t value_end = s_.value_end;
  while (value_end > s_.value_start && is_ows(base[value_end - 1])) --value_end;
  examined_ += s_.value_end - value_end + (value_end > s_.value_start ? 1 : 0);
  FieldSpans& field = fields_[s_.field_count++];
  field.name = {static_cast<std::uint32_t>(s_.line_start), static_cast<std::uint32_t>(s_.name_end - s_.line_start)};
  field.value = {static_cast<std::uint32_t>(s_.value_start), static_cast<std::uint32_t>(value_end - s_.value_start)};
  return apply_field(view(base, s_.line_start, s_.name_end), view(base, s_.value_start, value_end));
}

// Header fields that decide framing or connection handling; every other field is only recorded.
bool RequestHeadParser::apply_field(std::string_view name, std::string_view value) noexcept {
  Facts& facts = s_.facts;
  const auto is = [&](std::string_view known) noexcept {
    examined_ += name.size();
    if (!name_is(name, known)) return false;
    examined_ += value.size();
    return true;
  };
  switch (name.size()) {
    case 4:
      if (is("host")) {
        if (facts.has_host) return fail(400, "multiple Host header fields");
        if (!field_syntax::is_valid_host(value)) return fail(400, "invalid Host");
        facts.has_host = true;
      }
      break;
    case 6:
      if (is("expect")) {
        if (!equals_ignore_case(value, "100-continue")) {
          facts.expectation_unsupported = true;
        } else if (s_.version_minor == '1') {
          // RFC 9110 10.1.1: a 100-continue expectation in an HTTP/1.0 request is ignored.
          facts.expect_continue = true;
        }
      }
      break;
    case 10:
      if (is("connection")) {
        field_syntax::for_each_list_element(value, [&](std::string_view option) noexcept {
          if (equals_ignore_case(option, "close")) facts.connection_close = true;
          if (equals_ignore_case(option, "keep-alive")) facts.connection_keep_alive = true;
          return true;
        });
      }
      break;
    case 14:
      if (is("content-length")) {
        std::uint64_t length = 0;
        if (!field_syntax::parse_content_length(value, length)) return fail(400, "invalid Content-Length");
        if (facts.has_content_length && length != facts.content_length) {
          return fail(400, "conflicting Content-Length values");
        }
        if (facts.transfer_encoding) return fail(400, "Transfer-Encoding together with Content-Length");
        facts.has_content_length = true;
        facts.content_length = length;
      }
      break;
    case 17:
      if (is("transfer-encoding")) {
        if (s_.version_minor == '0') return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
        if (facts.has_content_length) return fail(400, "Transfer-Encoding together with Content-Length");
        facts.transfer_encoding = true;
        return field_syntax::for_each_list_element(
            value, [&](std::string_view coding) noexcept { return apply_transfer_coding(coding); });
      }
      break;
    default:
      break;
  }
  return true;
}

// The codings of every Transfer-Encoding line form one list (RFC 9110 5.3). chunked must come last, and
// once: anything after it, or a second one, leaves the body's length unknowable (RFC 9112 6.3, 7).
bool RequestHeadParser::apply_transfer_coding(std::string_view coding) noexcept {
  Facts& facts = s_.facts;
  if (coding.empty()) return true;  // RFC 9110 5.6.1.2: empty list elements are ignored
  if (equals_ignore_case(coding, "chunked")) {
    if (facts.chunked_seen) return fail(400, "chunked applied more than once");
    facts.chunked_seen = true;
    return true;
  }
  if (facts.chunked_seen) return fail(400, "chunked is not the final transfer coding");
  if (!field_syntax::is_transfer_coding(coding)) return fail(400, "malformed transfer coding");
  facts.other_coding_seen = true;
  return true;
}

// Verdicts that need the whole header section; 400s come first because they make the framing unknowable.
bool RequestHeadParser::judge() noexcept {
  const Facts& facts = s_.facts;
  if (s_.version_minor == '1' && !facts.has_host) return fail(400, "missing Host header field");
  if (facts.transfer_encoding) {
    if (!facts.chunked_seen) return fail(400, "final transfer coding is not chunked");
    if (facts.other_coding_seen) return fail(501, "unsupported transfer coding");
  }
  if (facts.expectation_unsupported) return fail(417, "unsupported expectation");
  s_.verdict = ParseResult{};
  s_.verdict.status = ParseStatus::kComplete;
  s_.verdict.consumed = s_.pos;
  s_.phase = Phase::kComplete;
  return false;
}

}  // namespace http
