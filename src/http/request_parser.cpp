#include "http/request_parser.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>

#include "base/text.h"

namespace http {
namespace {

// One table of character classes, so each scanning loop costs a load and a test per byte.
constexpr std::uint8_t kTokenChar = 1u << 0;       // tchar (RFC 9110 5.6.2)
constexpr std::uint8_t kTargetChar = 1u << 1;      // visible ASCII except '?', which splits path and query
constexpr std::uint8_t kFieldValueChar = 1u << 2;  // VCHAR, obs-text, SP, HTAB (RFC 9110 5.5)

constexpr std::array<std::uint8_t, 256> make_char_classes() noexcept {
  constexpr std::string_view kTokenPunctuation = "!#$%&'*+-.^_`|~";
  std::array<std::uint8_t, 256> classes{};
  for (unsigned c = 0; c < 256; ++c) {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool digit = c >= '0' && c <= '9';
    const bool visible = c >= 0x21 && c <= 0x7e;
    std::uint8_t bits = 0;
    if (alpha || digit || kTokenPunctuation.find(static_cast<char>(c)) != std::string_view::npos) {
      bits |= kTokenChar;
    }
    if (visible && c != '?') bits |= kTargetChar;
    if (visible || c >= 0x80 || c == ' ' || c == '\t') bits |= kFieldValueChar;
    classes[c] = bits;
  }
  return classes;
}

constexpr std::array<std::uint8_t, 256> kCharClasses = make_char_classes();

constexpr bool has_class(char c, std::uint8_t char_class) noexcept {
  return (kCharClasses[static_cast<unsigned char>(c)] & char_class) != 0;
}

using base::equals_ignore_case;
using base::is_digit;
using base::is_ows;
using base::trim_ows;

// Calls visit(element) for each element of a comma-separated list, OWS trimmed; empty elements included,
// so callers can refuse them. Stops early when visit returns false.
template <typename Visit>
bool for_each_list_element(std::string_view list, Visit&& visit) noexcept {
  for (;;) {
    const std::size_t comma = list.find(',');
    if (!visit(trim_ows(list.substr(0, comma)))) return false;
    if (comma == std::string_view::npos) return true;
    list.remove_prefix(comma + 1);
  }
}

// Content-Length = 1*DIGIT, or a list of identical values (RFC 9110 8.6). False on anything else,
// including a sign, hex, an empty element or a value beyond 64 bits.
bool parse_content_length(std::string_view value, std::uint64_t& length) noexcept {
  bool have_first = false;
  std::uint64_t first = 0;
  return for_each_list_element(value, [&](std::string_view element) noexcept {
    if (element.empty()) return false;
    std::uint64_t n = 0;
    for (const char c : element) {
      if (!is_digit(c)) return false;
      const auto digit = static_cast<std::uint64_t>(c - '0');
      if (n > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return false;
      n = n * 10 + digit;
    }
    if (have_first && n != first) return false;
    have_first = true;
    first = n;
    length = n;
    return true;
  });
}

// Facts collected across header lines; judged once the head is complete, because the order of the
// lines must not change the answer (e.g. Content-Length after Transfer-Encoding).
struct FramingFacts {
  unsigned host_count = 0;
  bool transfer_encoding_seen = false;
  unsigned transfer_codings = 0;
  bool only_chunked = true;
  bool connection_close = false;
  bool connection_keep_alive = false;
  bool expectation_unsupported = false;
};

class HeadParser {
 public:
  HeadParser(std::string_view buffer, const ParserLimits& limits, RequestHead& out) noexcept
      : begin_(buffer.data()),
        head_end_(buffer.data() + std::min(buffer.size(), limits.max_head_bytes)),
        buffer_over_head_limit_(buffer.size() > limits.max_head_bytes),
        limits_(limits),
        out_(out) {}

  ParseResult parse() noexcept {
    reset_output();
    const char* p = begin_;
    // RFC 9112 2.2: empty lines before the request line are skipped (robustness for old clients).
    for (;;) {
      if (p == head_end_) return need_more();
      if (*p == '\n') return error(400, "bare LF before request line");
      if (*p != '\r') break;
      if (p + 1 == head_end_) return need_more();
      if (p[1] != '\n') return error(400, "bare CR before request line");
      p += 2;
    }
    ParseResult result = parse_request_line(p);
    if (result.status != ParseStatus::kComplete) return result;
    return parse_fields(p);
  }

 private:
  void reset_output() noexcept {
    // Field by field, not `out_ = RequestHead{}`: that would rewrite the whole header array per call.
    out_.method = Method::kUnknown;
    out_.method_token = {};
    out_.target = {};
    out_.path = {};
    out_.query = {};
    out_.version_minor = 1;
    out_.has_content_length = false;
    out_.content_length = 0;
    out_.chunked = false;
    out_.keep_alive = true;
    out_.expect_continue = false;
    out_.has_host = false;
    out_.header_count = 0;
  }

  static ParseResult error(int status, std::string_view detail) noexcept {
    ParseResult result;
    result.status = ParseStatus::kError;
    result.error_status = status;
    result.error_detail = detail;
    return result;
  }

  // The scan ran out of bytes: either more may come, or the bytes already held prove the head too large.
  ParseResult need_more() const noexcept {
    if (buffer_over_head_limit_) return error(431, "request head too large");
    return ParseResult{};
  }

  // "http://" or "https://", scheme case-insensitive, fully inside [p, limit).
  static bool starts_with_scheme(const char* p, const char* limit) noexcept {
    const auto available = static_cast<std::size_t>(limit - p);
    const std::string_view text(p, std::min<std::size_t>(available, 8));
    return (text.size() >= 7 && equals_ignore_case(text.substr(0, 7), "http://")) ||
           (text.size() >= 8 && equals_ignore_case(text.substr(0, 8), "https://"));
  }

  static std::string_view view(const char* from, const char* to) noexcept {
    return {from, static_cast<std::size_t>(to - from)};
  }

  // Parses "method SP request-target SP HTTP-version CRLF"; on success advances p past the CRLF.
  ParseResult parse_request_line(const char*& p) noexcept {
    const char* const line_start = p;
    const auto room = static_cast<std::size_t>(head_end_ - line_start);
    const char* const line_limit = line_start + std::min(room, limits_.max_request_line);
    // Out of bytes before the line ended: when the line limit cut the scan short, the line is too long.
    const auto line_short = [&]() noexcept {
      return line_limit == head_end_ ? need_more() : error(414, "request line too long");
    };

    while (p < line_limit && has_class(*p, kTokenChar)) ++p;
    if (p == line_limit) return line_short();
    if (*p != ' ') return error(400, "invalid character in method");
    if (p == line_start) return error(400, "request line starts with whitespace");
    out_.method_token = view(line_start, p);
    out_.method = method_from_token(out_.method_token);
    ++p;

    const char* const target_start = p;
    if (p == line_limit) return line_short();
    const char* query_start = nullptr;
    for (;;) {
      while (p < line_limit && has_class(*p, kTargetChar)) ++p;
      if (p == line_limit || *p != '?') break;
      if (query_start == nullptr) query_start = p + 1;
      ++p;
    }
    if (p == line_limit) return line_short();
    if (*p != ' ') return error(400, "invalid byte in request-target");
    // absolute-form ("http://host/path") must be accepted from any client (RFC 9112 3.2.2); its path is
    // routed like origin-form. Decided once the whole target is here, so a split read cannot change it.
    const bool absolute_form = starts_with_scheme(target_start, p);
    if (*target_start != '/' && *target_start != '*' && !absolute_form) {
      return error(400, "request-target is not origin-form");
    }
    out_.target = view(target_start, p);
    if (*target_start == '*') {
      if (out_.target.size() != 1) return error(400, "request-target is not origin-form");
      if (out_.method != Method::kOptions) return error(400, "asterisk-form is only allowed for OPTIONS");
      out_.path = out_.target;
    } else {
      const char* path_start = target_start;
      const char* const path_end = query_start != nullptr ? query_start - 1 : p;
      if (absolute_form) {
        const char* const authority = static_cast<const char*>(std::memchr(target_start, ':', 8)) + 3;
        path_start = authority;
        while (path_start < path_end && *path_start != '/') ++path_start;
        if (path_start == authority) return error(400, "absolute-form without authority");
      }
      // An absolute-form target without a path means "/" (RFC 9110 4.2.3).
      out_.path = path_start == path_end ? std::string_view("/") : view(path_start, path_end);
      if (query_start != nullptr) out_.query = view(query_start, p);
    }
    ++p;

    // HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive; a partial version is checked as far as it goes.
    constexpr std::string_view kTypicalVersion = "HTTP/1.1";
    const auto available = static_cast<std::size_t>(line_limit - p);
    if (available < kTypicalVersion.size() || std::memcmp(p, kTypicalVersion.data(), kTypicalVersion.size()) != 0) {
      constexpr std::string_view kVersionPattern = "HTTP/D.D";
      const std::size_t checkable = std::min(available, kVersionPattern.size());
      for (std::size_t i = 0; i < checkable; ++i) {
        const bool ok = kVersionPattern[i] == 'D' ? is_digit(p[i]) : p[i] == kVersionPattern[i];
        if (!ok) return error(400, "malformed HTTP version");
      }
      if (available < kVersionPattern.size()) return line_short();
    }
    const char major = p[5];
    const char minor = p[7];
    p += kTypicalVersion.size();
    if (p == head_end_) return need_more();
    if (*p != '\r') return error(400, *p == '\n' ? "bare LF in request line" : "malformed HTTP version");
    if (p + 1 == head_end_) return need_more();
    if (p[1] != '\n') return error(400, "bare CR in request line");
    if (major != '1' || (minor != '0' && minor != '1')) return error(505, "HTTP version not supported");
    out_.version_minor = minor - '0';
    p += 2;
    return ParseResult{ParseStatus::kComplete, 0, 0, {}};
  }

  ParseResult parse_fields(const char* p) noexcept {
    FramingFacts facts;
    for (;;) {
      if (p == head_end_) return need_more();
      if (*p == '\r') {
        if (p + 1 == head_end_) return need_more();
        if (p[1] != '\n') return error(400, "bare CR in header section");
        p += 2;
        break;
      }
      if (out_.header_count == kMaxHeaders) return error(431, "too many header fields");

      const char* const name_start = p;
      while (p < head_end_ && has_class(*p, kTokenChar)) ++p;
      if (p == head_end_) return need_more();
      if (*p != ':') {
        if (p == name_start && is_ows(*p)) return error(400, "obs-fold or whitespace before field name");
        if (*p == '\n') return error(400, "bare LF in header section");
        if (is_ows(*p)) return error(400, "whitespace between field name and colon");
        return error(400, "invalid character in field name");
      }
      if (p == name_start) return error(400, "empty field name");
      const std::string_view name = view(name_start, p);
      ++p;

      while (p < head_end_ && is_ows(*p)) ++p;
      const char* const value_start = p;
      while (p < head_end_ && has_class(*p, kFieldValueChar)) ++p;
      if (p == head_end_) return need_more();
      if (*p != '\r') return error(400, *p == '\n' ? "bare LF in header section" : "invalid byte in field value");
      if (p + 1 == head_end_) return need_more();
      if (p[1] != '\n') return error(400, "bare CR in header section");
      const char* value_end = p;
      while (value_end > value_start && is_ows(value_end[-1])) --value_end;
      p += 2;

      const Header header{name, view(value_start, value_end)};
      out_.headers[out_.header_count++] = header;
      ParseResult verdict = apply_field(header, facts);
      if (verdict.status == ParseStatus::kError) return verdict;
    }
    ParseResult verdict = judge(facts);
    if (verdict.status == ParseStatus::kError) return verdict;
    ParseResult result;
    result.status = ParseStatus::kComplete;
    result.consumed = static_cast<std::size_t>(p - begin_);
    return result;
  }

  // Header fields that decide framing or connection handling; every other field is only recorded.
  ParseResult apply_field(const Header& header, FramingFacts& facts) noexcept {
    const std::string_view name = header.name;
    const std::string_view value = header.value;
    switch (name.size()) {
      case 4:
        if (equals_ignore_case(name, "host")) {
          if (++facts.host_count > 1) return error(400, "multiple Host header fields");
          out_.has_host = true;
        }
        break;
      case 6:
        if (equals_ignore_case(name, "expect")) {
          if (!equals_ignore_case(value, "100-continue")) {
            facts.expectation_unsupported = true;
          } else if (out_.version_minor == 1) {
            // RFC 9110 10.1.1: a 100-continue expectation in an HTTP/1.0 request is ignored.
            out_.expect_continue = true;
          }
        }
        break;
      case 10:
        if (equals_ignore_case(name, "connection")) {
          for_each_list_element(value, [&](std::string_view option) noexcept {
            if (equals_ignore_case(option, "close")) facts.connection_close = true;
            if (equals_ignore_case(option, "keep-alive")) facts.connection_keep_alive = true;
            return true;
          });
        }
        break;
      case 14:
        if (equals_ignore_case(name, "content-length")) {
          std::uint64_t length = 0;
          if (!parse_content_length(value, length)) return error(400, "invalid Content-Length");
          if (out_.has_content_length && length != out_.content_length) {
            return error(400, "conflicting Content-Length values");
          }
          out_.has_content_length = true;
          out_.content_length = length;
        }
        break;
      case 17:
        if (equals_ignore_case(name, "transfer-encoding")) {
          if (out_.version_minor == 0) return error(400, "Transfer-Encoding in an HTTP/1.0 request");
          facts.transfer_encoding_seen = true;
          for_each_list_element(value, [&](std::string_view coding) noexcept {
            ++facts.transfer_codings;
            if (!equals_ignore_case(coding, "chunked")) facts.only_chunked = false;
            return true;
          });
        }
        break;
      default:
        break;
    }
    return ParseResult{ParseStatus::kComplete, 0, 0, {}};
  }

  // Verdicts that need the whole header section; 400s come first because they make the framing unknowable.
  ParseResult judge(const FramingFacts& facts) noexcept {
    if (facts.transfer_encoding_seen && out_.has_content_length) {
      return error(400, "Transfer-Encoding together with Content-Length");
    }
    if (out_.version_minor == 1 && facts.host_count == 0) return error(400, "missing Host header field");
    if (facts.transfer_encoding_seen) {
      if (facts.transfer_codings != 1 || !facts.only_chunked) return error(501, "unsupported transfer coding");
      out_.chunked = true;
    }
    if (facts.expectation_unsupported) return error(417, "unsupported expectation");
    out_.keep_alive = out_.version_minor == 1 ? !facts.connection_close
                                              : facts.connection_keep_alive && !facts.connection_close;
    return ParseResult{ParseStatus::kComplete, 0, 0, {}};
  }

  const char* const begin_;
  const char* const head_end_;  // scans never look past the head limit
  const bool buffer_over_head_limit_;
  const ParserLimits& limits_;
  RequestHead& out_;
};

}  // namespace

ParseResult parse_request_head(std::string_view buffer, const ParserLimits& limits, RequestHead& out) noexcept {
  return HeadParser(buffer, limits, out).parse();
}

// Placeholder until the incremental parser lands: re-parses the whole buffer, counting what it looks at.
RequestHeadParser::RequestHeadParser(const ParserLimits& limits) noexcept : limits_(&limits) {}

ParseResult RequestHeadParser::parse(std::string_view buffer, RequestHead& out) noexcept {
  examined_ += buffer.size();
  return parse_request_head(buffer, *limits_, out);
}

void RequestHeadParser::reset() noexcept { examined_ = 0; }

std::string_view RequestHead::header(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < header_count; ++i) {
    if (base::equals_ignore_case(headers[i].name, name)) return headers[i].value;
  }
  return {};
}

}  // namespace http
