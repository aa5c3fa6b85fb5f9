// parse_request_head() and RequestHeadParser on arbitrary bytes, under default limits, small limits and
// limits cut to the input.
//
// Invariants:
//  - consumed <= size, and a complete head ends in CRLF CRLF; errors only with 400, 414, 417, 431, 501, 505
//  - every view of a complete head lies inside the head bytes (an absolute-form path may be the literal "/")
//  - parsing exactly the head bytes, or parsing into a RequestHead left over from another request, gives the
//    identical head: the one-shot parse resets everything it reports
//  - a prefix of the input is incomplete or fails with the same status as the whole: a valid head split by
//    the network is never refused early, and a prefix refused early is one no continuation could save
//  - RequestHeadParser fed the input in pieces (one byte per call, cut where the input says, with repeated
//    calls and a buffer that moves) gives the one-shot verdict, consumed count and head (by offset), and
//    answers nothing but kIncomplete before it; bytes_examined() stays within 3 x the bytes fed (+ 64)
//  - the framing facts agree with an independent reading of the header fields (Content-Length, the
//    Transfer-Encoding codings, Host syntax, Connection, Expect), and each refusal that names a rule (414,
//    417, 431, 501, 505, request_line_parsed) is borne out by the bytes
//  - field_syntax::is_ipv6_address agrees with inet_pton(AF_INET6) on the input
#include <arpa/inet.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "http/field_syntax.h"
#include "http/request_parser.h"

namespace {

using http::ParseResult;
using http::ParseStatus;
using http::RequestHead;

bool inside(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;
  const auto begin = reinterpret_cast<std::uintptr_t>(whole.data());
  const auto at = reinterpret_cast<std::uintptr_t>(part.data());
  return at >= begin && at + part.size() <= begin + whole.size();
}

bool same_view(std::string_view a, std::string_view b) {
  return a.size() == b.size() && (a.empty() || a.data() == b.data());
}

// The same bytes at the same offset of two buffers (the same view when both are one buffer).
bool same_place(std::string_view a, std::string_view a_buffer, std::string_view b, std::string_view b_buffer) {
  if (a != b) return false;
  if (a.empty()) return true;
  const bool a_inside = inside(a, a_buffer);
  if (a_inside != inside(b, b_buffer)) return false;
  return !a_inside || a.data() - a_buffer.data() == b.data() - b_buffer.data();
}

bool same_head(const RequestHead& a, std::string_view a_buffer, const RequestHead& b, std::string_view b_buffer) {
  const auto place = [&](std::string_view x, std::string_view y) { return same_place(x, a_buffer, y, b_buffer); };
  if (a.method != b.method || !place(a.method_token, b.method_token) || !place(a.target, b.target) ||
      !place(a.path, b.path) || !place(a.query, b.query) || a.version_minor != b.version_minor ||
      a.has_content_length != b.has_content_length || a.content_length != b.content_length ||
      a.chunked != b.chunked || a.keep_alive != b.keep_alive || a.expect_continue != b.expect_continue ||
      a.has_host != b.has_host || a.header_count != b.header_count) {
    return false;
  }
  for (std::size_t i = 0; i < a.header_count; ++i) {
    if (!place(a.headers[i].name, b.headers[i].name) || !place(a.headers[i].value, b.headers[i].value)) return false;
  }
  return true;
}

bool same_result(const ParseResult& a, const ParseResult& b) {
  return a.status == b.status && a.consumed == b.consumed && a.error_status == b.error_status &&
         a.error_detail == b.error_detail && a.request_line_parsed == b.request_line_parsed;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_hex(char c) { return (c >= '0' && c <= '9') || (lower(c) >= 'a' && lower(c) <= 'f'); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls visit(element) for each comma-separated element, trimmed.
template <typename Visit>
void for_each_element(std::string_view list, Visit visit) {
  for (;;) {
    const std::size_t comma = list.find(',');
    visit(trim(list.substr(0, comma)));
    if (comma == std::string_view::npos) return;
    list.remove_prefix(comma + 1);
  }
}

// The non-empty codings of every Transfer-Encoding field, in order.
std::vector<std::string_view> transfer_codings(const RequestHead& head) {
  std::vector<std::string_view> codings;
  for (std::size_t i = 0; i < head.header_count; ++i) {
    if (!iequals(head.headers[i].name, "transfer-encoding")) continue;
    for_each_element(head.headers[i].value, [&](std::string_view coding) {
      if (!coding.empty()) codings.push_back(coding);
    });
  }
  return codings;
}

bool ipv6_by_libc(std::string_view text) {
  if (text.size() > 64 || text.find('\0') != std::string_view::npos) return false;
  const std::string terminated(text);
  unsigned char address[16];
  return inet_pton(AF_INET6, terminated.c_str(), address) == 1;
}

// Host = uri-host [ ":" port ], read by a second hand: an IPv6 literal as libc reads it, else characters
// of a reg-name (unreserved, sub-delims, %HH), then an all-digit port.
bool host_ok(std::string_view value) {
  std::string_view port;
  if (!value.empty() && value[0] == '[') {
    const std::size_t close = value.find(']');
    if (close == std::string_view::npos || !ipv6_by_libc(value.substr(1, close - 1))) return false;
    const std::string_view rest = value.substr(close + 1);
    if (!rest.empty() && rest[0] != ':') return false;
    port = rest.empty() ? rest : rest.substr(1);
  } else {
    std::size_t i = 0;
    for (; i < value.size() && value[i] != ':'; ++i) {
      const char c = value[i];
      const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
      if (alnum || std::string_view("-._~!$&'()*+,;=").find(c) != std::string_view::npos) continue;
      if (c != '%' || i + 2 >= value.size() || !is_hex(value[i + 1]) || !is_hex(value[i + 2])) return false;
      i += 2;
    }
    port = i < value.size() ? value.substr(i + 1) : std::string_view();
  }
  for (const char c : port) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// The framing facts of an accepted head, re-derived from its fields without the parser's code.
void check_framing_facts(const RequestHead& head) {
  unsigned hosts = 0;
  unsigned transfer_encodings = 0;
  unsigned content_lengths = 0;
  bool close = false;
  bool keep_alive = false;
  bool expect = false;
  for (std::size_t i = 0; i < head.header_count; ++i) {
    const std::string_view name = head.headers[i].name;
    const std::string_view value = head.headers[i].value;
    FUZZ_CHECK(!name.empty());
    for (const char c : name) FUZZ_CHECK(is_tchar(c));
    for (const char c : value) {
      const auto u = static_cast<unsigned char>(c);
      FUZZ_CHECK(u == '\t' || (u >= 0x20 && u != 0x7f));
    }
    FUZZ_CHECK(trim(value).size() == value.size());
    // header() answers the first field of that name, whatever the case.
    std::size_t first = 0;
    while (!iequals(head.headers[first].name, name)) ++first;
    FUZZ_CHECK(same_view(head.header(name), head.headers[first].value));
    if (iequals(name, "host")) {
      ++hosts;
      FUZZ_CHECK(host_ok(value));
    }
    if (iequals(name, "transfer-encoding")) ++transfer_encodings;
    if (iequals(name, "content-length")) {
      ++content_lengths;
      for_each_element(value, [&](std::string_view element) {
        FUZZ_CHECK(!element.empty());
        std::uint64_t n = 0;
        for (const char c : element) {
          FUZZ_CHECK(c >= '0' && c <= '9');
          const auto digit = static_cast<std::uint64_t>(c - '0');
          FUZZ_CHECK(n <= (UINT64_MAX - digit) / 10);
          n = n * 10 + digit;
        }
        FUZZ_CHECK(n == head.content_length);
      });
    }
    if (iequals(name, "connection")) {
      for_each_element(value, [&](std::string_view option) {
        if (iequals(option, "close")) close = true;
        if (iequals(option, "keep-alive")) keep_alive = true;
      });
    }
    if (iequals(name, "expect")) {
      FUZZ_CHECK(iequals(value, "100-continue"));
      expect = true;
    }
  }
  FUZZ_CHECK(hosts <= 1);
  FUZZ_CHECK(head.has_host == (hosts == 1));
  if (head.version_minor == 1) FUZZ_CHECK(hosts == 1);
  // Accepted codings are exactly one "chunked", over any number of fields.
  const std::vector<std::string_view> codings = transfer_codings(head);
  FUZZ_CHECK(head.chunked == (transfer_encodings > 0));
  if (head.chunked) FUZZ_CHECK(codings.size() == 1 && iequals(codings[0], "chunked"));
  FUZZ_CHECK(head.has_content_length == (content_lengths > 0));
  FUZZ_CHECK(!(head.chunked && head.has_content_length));
  if (head.chunked) FUZZ_CHECK(head.version_minor == 1);
  FUZZ_CHECK(head.keep_alive == (head.version_minor == 1 ? !close : keep_alive && !close));
  FUZZ_CHECK(head.expect_continue == (expect && head.version_minor == 1));
}

// Where the request line starts: after the leading CRLF pairs.
std::size_t request_start(std::string_view buffer) {
  std::size_t start = 0;
  while (buffer.substr(start, 2) == "\r\n") start += 2;
  return start;
}

void check_request_line(const RequestHead& head, std::string_view buffer) {
  FUZZ_CHECK(!head.method_token.empty() && head.method_token.size() <= 64 && inside(head.method_token, buffer));
  for (const char c : head.method_token) FUZZ_CHECK(is_tchar(c));
  FUZZ_CHECK(head.method == http::method_from_token(head.method_token));
  FUZZ_CHECK(!head.target.empty() && inside(head.target, buffer));
  FUZZ_CHECK(head.target.find('#') == std::string_view::npos);
  FUZZ_CHECK(head.target.front() == '/' || head.target == "*" || iequals(head.target.substr(0, 4), "http"));
  FUZZ_CHECK(inside(head.path, head.target) || head.path == "/");
  FUZZ_CHECK(inside(head.query, head.target));
  FUZZ_CHECK(head.path.find('?') == std::string_view::npos);
  FUZZ_CHECK(head.version_minor == 0 || head.version_minor == 1);
}

// A refusal that names a rule must be borne out by the bytes.
void check_error(std::string_view buffer, const ParseResult& result, const RequestHead& head,
                 const http::ParserLimits& limits) {
  FUZZ_CHECK(result.consumed == 0);
  FUZZ_CHECK(!result.error_detail.empty());
  const int status = result.error_status;
  FUZZ_CHECK(status == 400 || status == 414 || status == 417 || status == 431 || status == 501 || status == 505);
  const std::size_t start = request_start(buffer);
  switch (status) {
    case 414: {
      // The line ran past its limit: more than max_request_line bytes without a line end.
      FUZZ_CHECK(!result.request_line_parsed);
      FUZZ_CHECK(buffer.size() > start + limits.max_request_line);
      const std::string_view line = buffer.substr(start, limits.max_request_line + 1);
      FUZZ_CHECK(line.find_first_of("\r\n") == std::string_view::npos);
      break;
    }
    case 431:
      FUZZ_CHECK(buffer.size() > limits.max_head_bytes ||
                 (result.request_line_parsed && head.header_count == http::kMaxHeaders));
      break;
    case 505: {
      FUZZ_CHECK(!result.request_line_parsed);
      const std::size_t line_end = buffer.find("\r\n", start);
      FUZZ_CHECK(line_end != std::string_view::npos && line_end >= start + 8);
      const std::string_view version = buffer.substr(line_end - 8, 8);
      FUZZ_CHECK(version.starts_with("HTTP/") && version != "HTTP/1.1" && version != "HTTP/1.0");
      break;
    }
    case 417:
    case 501: {
      // Judged last, once the whole header section was in: every earlier check passed.
      FUZZ_CHECK(result.request_line_parsed);
      check_request_line(head, buffer);
      if (status == 501) {
        const std::vector<std::string_view> codings = transfer_codings(head);
        FUZZ_CHECK(codings.size() >= 2 && iequals(codings.back(), "chunked"));
        for (std::size_t i = 0; i + 1 < codings.size(); ++i) FUZZ_CHECK(!iequals(codings[i], "chunked"));
      } else {
        bool unsupported = false;
        for (std::size_t i = 0; i < head.header_count; ++i) {
          if (iequals(head.headers[i].name, "expect") && !iequals(head.headers[i].value, "100-continue")) {
            unsupported = true;
          }
        }
        FUZZ_CHECK(unsupported);
      }
      break;
    }
    default:
      break;
  }
  if (result.request_line_parsed) check_request_line(head, buffer);
}

void check_complete(std::string_view buffer, const ParseResult& result, const RequestHead& head,
                    const http::ParserLimits& limits) {
  FUZZ_CHECK(result.consumed <= buffer.size());
  FUZZ_CHECK(result.consumed <= limits.max_head_bytes);
  const std::string_view bytes = buffer.substr(0, result.consumed);
  FUZZ_CHECK(bytes.ends_with("\r\n\r\n"));
  check_request_line(head, bytes);
  FUZZ_CHECK(head.header_count <= http::kMaxHeaders);
  for (std::size_t i = 0; i < head.header_count; ++i) {
    FUZZ_CHECK(inside(head.headers[i].name, bytes));
    FUZZ_CHECK(inside(head.headers[i].value, bytes));
  }
  check_framing_facts(head);

  // Exactly the head bytes give the same answer, and so does a RequestHead holding another request.
  RequestHead again;
  FUZZ_CHECK(same_result(http::parse_request_head(bytes, limits, again), result));
  FUZZ_CHECK(same_head(again, bytes, head, buffer));
}

// A RequestHead full of facts from another request, to prove that parsing resets all of them.
void prefill(RequestHead& head) {
  static constexpr std::string_view kOther =
      "PUT /api/buckets/x?y HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\nConnection: close\r\n"
      "Expect: 100-continue\r\nA: 1\r\nB: 2\r\n\r\n";
  const ParseResult result = http::parse_request_head(kOther, http::ParserLimits{}, head);
  FUZZ_CHECK(result.status == ParseStatus::kComplete);
}

// How RequestHeadParser is fed: where each call's bytes end, whether a call is repeated without new bytes,
// whether the bytes move to a new buffer first.
enum class Feeding { kBytewise, kInputCuts, kMovingRepeated };

void check_incremental(std::string_view input, const http::ParserLimits& limits, const ParseResult& whole,
                       const RequestHead& whole_head, Feeding feeding, std::uint32_t seed) {
  http::RequestHeadParser parser(limits);
  RequestHead head;
  prefill(head);
  ParseResult result;
  std::string moved;  // a copy that is reallocated, so the parser sees its bytes at a new address
  std::string_view seen;
  std::size_t fed = 0;
  while (fed < input.size()) {
    std::size_t next = fed + 1;
    if (feeding != Feeding::kBytewise) {
      // Cut where the input's bytes (and the seed) say, so that mutations move the cuts around.
      while (next < input.size() && ((static_cast<unsigned char>(input[next - 1]) ^ seed ^ next) & 7u) != 0) ++next;
    }
    fed = next;
    seen = input.substr(0, fed);
    const int calls = feeding == Feeding::kMovingRepeated && ((seed ^ fed) & 1u) ? 2 : 1;
    for (int call = 0; call < calls; ++call) {
      if (feeding == Feeding::kMovingRepeated) {
        moved = std::string(seen);
        moved.reserve(moved.size() + 1 + (seed & 63u));
        seen = moved;
      }
      result = parser.parse(seen, head);
      FUZZ_CHECK(parser.bytes_examined() <= 3 * fed + 64);
    }
    if (result.status != ParseStatus::kIncomplete) break;
  }
  // Only the final verdict, never an early one that differs.
  FUZZ_CHECK(same_result(result, whole));
  if (whole.status == ParseStatus::kComplete) {
    FUZZ_CHECK(fed >= whole.consumed);
    FUZZ_CHECK(same_head(head, seen, whole_head, input));
  } else if (whole.status == ParseStatus::kError && whole.request_line_parsed) {
    FUZZ_CHECK(same_place(head.target, seen, whole_head.target, input));
    FUZZ_CHECK(head.method == whole_head.method);
  }
}

void check_with_limits(std::string_view buffer, const http::ParserLimits& limits, std::uint32_t seed) {
  RequestHead head;
  const ParseResult result = http::parse_request_head(buffer, limits, head);

  RequestHead reused;
  prefill(reused);
  const ParseResult reused_result = http::parse_request_head(buffer, limits, reused);
  FUZZ_CHECK(same_result(reused_result, result));

  switch (result.status) {
    case ParseStatus::kComplete:
      FUZZ_CHECK(same_head(reused, buffer, head, buffer));
      check_complete(buffer, result, head, limits);
      break;
    case ParseStatus::kError:
      check_error(buffer, result, head, limits);
      break;
    case ParseStatus::kIncomplete:
      FUZZ_CHECK(result.consumed == 0);
      FUZZ_CHECK(buffer.size() <= limits.max_head_bytes);
      break;
  }

  for (const Feeding feeding : {Feeding::kBytewise, Feeding::kInputCuts, Feeding::kMovingRepeated}) {
    check_incremental(buffer, limits, result, head, feeding, seed);
  }
  if (result.status == ParseStatus::kIncomplete || buffer.empty()) return;  // no prefix can say more

  // One-shot parses of prefixes, as a caller re-reading from the start would see them: just short of the
  // end of the head, half, and one chosen by the input. Each must wait for more, or fail as the whole does.
  const std::size_t end = result.status == ParseStatus::kComplete ? result.consumed : buffer.size();
  const std::array<std::size_t, 3> cuts = {end - 1, end / 2, seed % end};
  for (const std::size_t cut : cuts) {
    RequestHead partial;
    const ParseResult prefix = http::parse_request_head(buffer.substr(0, cut), limits, partial);
    FUZZ_CHECK(prefix.status != ParseStatus::kComplete);
    if (prefix.status == ParseStatus::kError) {
      FUZZ_CHECK(result.status == ParseStatus::kError);
      FUZZ_CHECK(prefix.error_status == result.error_status);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view buffer(reinterpret_cast<const char*>(data), size);
  const std::uint32_t seed = size > 0 ? data[0] * 131u + data[size - 1] : 0;

  // The input as a Host value and as an IPv6 literal: the syntax checks against a second reading.
  if (size <= 64) {
    FUZZ_CHECK(http::field_syntax::is_ipv6_address(buffer) == ipv6_by_libc(buffer));
    FUZZ_CHECK(http::field_syntax::is_valid_host(buffer) == host_ok(buffer));
  }

  check_with_limits(buffer, http::ParserLimits{}, seed);

  http::ParserLimits small;
  small.max_request_line = 40;
  small.max_head_bytes = 160;
  check_with_limits(buffer, small, seed);

  // Limits right at the input's own size put the head and line limits on every boundary in turn.
  http::ParserLimits tight;
  tight.max_request_line = size / 3 + 1;
  tight.max_head_bytes = size / 2 + 1;
  check_with_limits(buffer, tight, seed);
  return 0;
}
