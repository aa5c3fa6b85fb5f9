// parse_request_head() on arbitrary bytes, under default limits, small limits and limits cut to the input.
//
// Invariants:
//  - consumed <= size, and a complete head ends in CRLF CRLF; errors only with 400, 414, 417, 431, 501, 505
//  - every view of a complete head lies inside the head bytes (an absolute-form path may be the literal "/")
//  - parsing exactly the head bytes, or parsing into a RequestHead left over from another request, gives the
//    identical head: the parser is stateless and resets everything it reports
//  - a prefix of the input is incomplete or fails with the same status as the whole: the connection parses a
//    head as its bytes arrive, so a valid head split by the network must never be refused early
//  - the framing facts agree with an independent reading of the header fields (Content-Length, chunked,
//    Host, Connection, Expect)
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
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

bool same_head(const RequestHead& a, const RequestHead& b) {
  if (a.method != b.method || !same_view(a.method_token, b.method_token) || !same_view(a.target, b.target) ||
      a.path != b.path || !same_view(a.query, b.query) || a.version_minor != b.version_minor ||
      a.has_content_length != b.has_content_length || a.content_length != b.content_length ||
      a.chunked != b.chunked || a.keep_alive != b.keep_alive || a.expect_continue != b.expect_continue ||
      a.has_host != b.has_host || a.header_count != b.header_count) {
    return false;
  }
  for (std::size_t i = 0; i < a.header_count; ++i) {
    if (!same_view(a.headers[i].name, b.headers[i].name) || !same_view(a.headers[i].value, b.headers[i].value)) {
      return false;
    }
  }
  return true;
}

bool same_result(const ParseResult& a, const ParseResult& b) {
  return a.status == b.status && a.consumed == b.consumed && a.error_status == b.error_status;
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
    if (iequals(name, "host")) ++hosts;
    if (iequals(name, "transfer-encoding")) {
      ++transfer_encodings;
      FUZZ_CHECK(iequals(value, "chunked"));
    }
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
  FUZZ_CHECK(head.chunked == (transfer_encodings == 1));
  FUZZ_CHECK(transfer_encodings <= 1);
  FUZZ_CHECK(head.has_content_length == (content_lengths > 0));
  FUZZ_CHECK(!(head.chunked && head.has_content_length));
  if (head.chunked) FUZZ_CHECK(head.version_minor == 1);
  FUZZ_CHECK(head.keep_alive == (head.version_minor == 1 ? !close : keep_alive && !close));
  FUZZ_CHECK(head.expect_continue == (expect && head.version_minor == 1));
}

void check_complete(std::string_view buffer, const ParseResult& result, const RequestHead& head,
                    const http::ParserLimits& limits) {
  FUZZ_CHECK(result.consumed <= buffer.size());
  FUZZ_CHECK(result.consumed <= limits.max_head_bytes);
  const std::string_view bytes = buffer.substr(0, result.consumed);
  FUZZ_CHECK(bytes.ends_with("\r\n\r\n"));

  FUZZ_CHECK(!head.method_token.empty() && inside(head.method_token, bytes));
  for (const char c : head.method_token) FUZZ_CHECK(is_tchar(c));
  FUZZ_CHECK(head.method == http::method_from_token(head.method_token));
  FUZZ_CHECK(!head.target.empty() && inside(head.target, bytes));
  FUZZ_CHECK(inside(head.path, head.target) || head.path == "/");
  FUZZ_CHECK(inside(head.query, head.target));
  FUZZ_CHECK(head.path.find('?') == std::string_view::npos);
  FUZZ_CHECK(head.version_minor == 0 || head.version_minor == 1);
  FUZZ_CHECK(head.header_count <= http::kMaxHeaders);
  for (std::size_t i = 0; i < head.header_count; ++i) {
    FUZZ_CHECK(inside(head.headers[i].name, bytes));
    FUZZ_CHECK(inside(head.headers[i].value, bytes));
  }
  check_framing_facts(head);

  // Exactly the head bytes give the same answer, and so does a RequestHead holding another request.
  RequestHead again;
  FUZZ_CHECK(same_result(http::parse_request_head(bytes, limits, again), result));
  FUZZ_CHECK(same_head(again, head));
}

bool allowed_error_status(int status) {
  return status == 400 || status == 414 || status == 417 || status == 431 || status == 501 || status == 505;
}

// A RequestHead full of facts from another request, to prove that parsing resets all of them.
void prefill(RequestHead& head) {
  static constexpr std::string_view kOther =
      "PUT /api/buckets/x?y HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\nConnection: close\r\n"
      "Expect: 100-continue\r\nA: 1\r\nB: 2\r\n\r\n";
  const ParseResult result = http::parse_request_head(kOther, http::ParserLimits{}, head);
  FUZZ_CHECK(result.status == ParseStatus::kComplete);
}

void check_with_limits(std::string_view buffer, const http::ParserLimits& limits, std::size_t extra_cut) {
  RequestHead head;
  const ParseResult result = http::parse_request_head(buffer, limits, head);

  RequestHead reused;
  prefill(reused);
  const ParseResult reused_result = http::parse_request_head(buffer, limits, reused);
  FUZZ_CHECK(same_result(reused_result, result));

  switch (result.status) {
    case ParseStatus::kComplete:
      FUZZ_CHECK(same_head(reused, head));
      check_complete(buffer, result, head, limits);
      break;
    case ParseStatus::kError:
      FUZZ_CHECK(allowed_error_status(result.error_status));
      FUZZ_CHECK(!result.error_detail.empty());
      FUZZ_CHECK(result.consumed == 0);
      break;
    case ParseStatus::kIncomplete:
      FUZZ_CHECK(result.consumed == 0);
      FUZZ_CHECK(buffer.size() <= limits.max_head_bytes);
      return;  // no prefix can say more than the whole
  }

  // Prefixes as the network may deliver them: just short of the end of the head, half, and one chosen by
  // the input. Each must wait for more, or fail exactly as the whole does.
  const std::size_t end = result.status == ParseStatus::kComplete ? result.consumed : buffer.size();
  const std::array<std::size_t, 3> cuts = {end - 1, end / 2, extra_cut % end};
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
  const std::size_t extra_cut = size > 0 ? data[0] * 131u + data[size - 1] : 0;

  check_with_limits(buffer, http::ParserLimits{}, extra_cut);

  http::ParserLimits small;
  small.max_request_line = 40;
  small.max_head_bytes = 160;
  check_with_limits(buffer, small, extra_cut);

  // Limits right at the input's own size put the head and line limits on every boundary in turn.
  http::ParserLimits tight;
  tight.max_request_line = size / 3 + 1;
  tight.max_head_bytes = size / 2 + 1;
  check_with_limits(buffer, tight, extra_cut);
  return 0;
}
