#pragma once
// Incremental, zero-copy parser for an HTTP/1.x request head (request line + header section).
//
// Contract (after picohttpparser): parse_request_head() looks at the bytes the caller has received so far
// and answers complete (how many bytes the head took), incomplete (call again with more bytes), or error
// (with the precise status to answer and then close). It never allocates and never copies; the result's
// views point into `buffer`. It is stateless: calling it again on a longer buffer re-parses from the start.
//
// Strict on purpose (RFC 9112), because a lenient parser is how requests get smuggled:
//  - lines end in CRLF; a bare CR or bare LF is 400
//  - no whitespace before the first line, between a field name and its colon (400), no obs-fold (400)
//  - Content-Length must be 1*DIGIT; repeated values must be identical, else 400; overflow is 400
//  - Transfer-Encoding together with Content-Length is 400; any coding but a single final "chunked" is 501
//    (so "gzip, chunked" is refused too); Transfer-Encoding in HTTP/1.0 is 400
//  - HTTP/1.1 without exactly one Host is 400; versions other than HTTP/1.0 and HTTP/1.1 are 505
//  - request line longer than limits.max_request_line is 414; a head longer than limits.max_head_bytes or
//    more than kMaxHeaders fields is 431 (detected as soon as the buffered bytes prove it, even if incomplete)
//  - request-target must be origin-form ("/..."), absolute-form ("http://host/..."; path taken from it),
//    or "*" only for OPTIONS; else 400
//  - field values may not contain CTLs other than HTAB (400)
//  - Expect other than "100-continue" is 417 (judged after the framing checks above)
#include <cstddef>
#include <string_view>

#include "http/request.h"

namespace http {

struct ParserLimits {
  std::size_t max_request_line = 8 * 1024;
  std::size_t max_head_bytes = 16 * 1024;  // request line + headers + final CRLF
};

enum class ParseStatus { kComplete, kIncomplete, kError };

struct ParseResult {
  ParseStatus status = ParseStatus::kIncomplete;
  std::size_t consumed = 0;    // bytes of the head, including the blank line (kComplete only)
  int error_status = 0;        // 400, 414, 417, 431, 501 or 505 (kError only)
  std::string_view error_detail;  // static text saying what was wrong (kError only), for logs
  // kError only: the request line was valid, so out.method, method_token, target, path, query and
  // version_minor describe the refused request (its metric labels and access log line can name them).
  bool request_line_parsed = false;
};

// One-shot: parses a buffer that holds a whole head (or all the bytes there will be). Re-reads from the
// start on every call, so a caller receiving a head piecemeal must use RequestHeadParser instead.
ParseResult parse_request_head(std::string_view buffer, const ParserLimits& limits, RequestHead& out) noexcept;

// Incremental: the same verdicts as parse_request_head() on the same bytes, for a head that arrives in
// pieces. It keeps how far it has examined the bytes (as picohttpparser's last_len does), so the work over
// every call for one head is O(its length) however it is split, and it refuses as soon as the bytes are
// certain to be invalid: a first byte that cannot start a method, a malformed request line at its first bad
// byte, a line over a limit once the limit is passed. It answers kIncomplete only while more bytes could
// still change the verdict.
class RequestHeadParser {
 public:
  explicit RequestHeadParser(const ParserLimits& limits) noexcept;

  // `buffer` holds every byte received since reset(): the previous call's bytes, unchanged, plus any new
  // ones (it may have moved in memory). Views in `out` point into `buffer`.
  ParseResult parse(std::string_view buffer, RequestHead& out) noexcept;
  void reset() noexcept;  // before the next head

  // Bytes examined since reset(), counted once per look: what the O(n) guarantee is tested against.
  std::size_t bytes_examined() const noexcept { return examined_; }

 private:
  const ParserLimits* limits_;
  std::size_t examined_ = 0;
  std::size_t scan_state_[6] = {};  // the implementation's resume points (private layout)
};

}  // namespace http
