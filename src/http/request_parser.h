#pragma once
// Incremental, zero-copy parser for an HTTP/1.x request head (request line + header section).
//
// Contract (after picohttpparser): a parse looks at the bytes the caller has received so far and answers
// complete (how many bytes the head took), incomplete (call again with more bytes), or error (with the
// precise status to answer and then close). It never allocates and never copies; the result's views point
// into the caller's buffer. Every verdict depends only on the bytes before the position where it is
// reached, so a head split across reads gets the same answer as the head in one read, and an invalid head
// is refused at the byte that makes it certain, without waiting for the blank line.
//
// Strict on purpose (RFC 9112), because a lenient parser is how requests get smuggled:
//  - empty lines (CRLF) before the request line are skipped and counted in `consumed` (RFC 9112 2.2)
//  - lines end in CRLF; a bare CR or bare LF is 400
//  - a byte that cannot start a method (a space, a TLS handshake), a method over 64 bytes, a method running
//    past the request-line limit: 400 at that byte
//  - request-target must be origin-form ("/..."), absolute-form ("http://host/..."; path taken from it),
//    or "*" only for OPTIONS; a fragment ("#") is 400; refused at the first byte no valid target has there
//  - a line without " HTTP/" after the target (HTTP/0.9) is 400; the version must be "HTTP/" DIGIT "." DIGIT
//    (400 at the first byte that contradicts it); versions other than HTTP/1.0 and HTTP/1.1 are 505
//  - a request line longer than limits.max_request_line is 414; a head longer than limits.max_head_bytes or
//    with more than kMaxHeaders fields is 431 (each as soon as the bytes pass the limit)
//  - no whitespace between a field name and its colon, no obs-fold (400); field values may not contain CTLs
//    other than HTAB (400); each field line is judged when it ends
//  - Content-Length must be 1*DIGIT; repeated values must be identical, else 400; overflow is 400
//  - Transfer-Encoding together with Content-Length is 400; Transfer-Encoding in HTTP/1.0 is 400; codings
//    whose last is not "chunked" (so the length is unknowable: "gzip", "chunked, gzip") are 400, as is
//    "chunked" applied twice; "chunked" last after another coding ("gzip, chunked") is 501 (unsupported)
//  - Host must be uri-host [ ":" port ] (RFC 9110 7.2; an IPv6 literal, IPv4 or reg-name, no userinfo),
//    or empty, else 400; HTTP/1.1 without exactly one Host is 400
//  - Expect other than "100-continue" is 417 (judged after every framing check above)
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/request.h"

namespace http {

struct ParserLimits {
  std::size_t max_request_line = 8 * 1024;
  std::size_t max_head_bytes = 16 * 1024;  // leading empty lines + request line + headers + final CRLF
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
// still change the verdict. `out` is written on kComplete (every field), and on kError after the request
// line was accepted (the request line and the fields before the error); otherwise it is left alone.
class RequestHeadParser {
 public:
  explicit RequestHeadParser(const ParserLimits& limits) noexcept;

  // `buffer` holds every byte received since reset(): the previous call's bytes, unchanged, plus any new
  // ones (it may have moved in memory). Views in `out` point into `buffer`. Once complete or failed, further
  // calls give the same answer until reset().
  ParseResult parse(std::string_view buffer, RequestHead& out) noexcept;
  void reset() noexcept;  // before the next head

  // Bytes examined since reset(), counted once per look: what the O(n) guarantee is tested against.
  std::size_t bytes_examined() const noexcept { return examined_; }
  // True once a byte of the request line has been seen: empty lines before it (RFC 9112 2.2) do not start
  // a request, so a connection that received only those is still idle.
  bool in_request() const noexcept { return s_.phase != Phase::kLeadingLine && s_.phase != Phase::kLeadingLf; }

 private:
  enum class Phase : std::uint8_t {
    kLeadingLine, kLeadingLf, kMethod, kTarget, kVersion, kVersionCr, kVersionLf,
    kFieldStart, kFieldName, kFieldValueStart, kFieldValue, kFieldLf, kFinalLf, kComplete, kFailed,
  };
  enum class TargetForm : std::uint8_t { kUndecided, kOrigin, kAsterisk, kAbsolute };

  // Offsets into the buffer, not pointers: the buffer may move between calls. 32 bits suffice because the
  // head limit is clamped to 4 GiB.
  struct Span {
    std::uint32_t offset;
    std::uint32_t length;
  };
  struct FieldSpans {
    Span name;
    Span value;
  };

  // Facts collected across field lines. Verdicts that depend on later lines (missing Host, the last
  // coding, Expect) wait for the blank line, so the order of the lines cannot change the answer.
  struct Facts {
    std::uint64_t content_length = 0;
    bool has_content_length = false;
    bool has_host = false;
    bool transfer_encoding = false;
    bool chunked_seen = false;        // "chunked" has been listed (it must be the last coding)
    bool other_coding_seen = false;   // a coding other than chunked, before it
    bool connection_close = false;
    bool connection_keep_alive = false;
    bool expect_continue = false;
    bool expectation_unsupported = false;
  };

  bool scan_leading_lines(const char* base, const char* end) noexcept;
  bool scan_method(const char* base, const char* end) noexcept;
  bool scan_target(const char* base, const char* end) noexcept;
  bool check_target_prefix(const char* base) noexcept;
  bool finish_target(const char* base) noexcept;
  bool scan_version(const char* base, const char* end) noexcept;
  bool scan_fields(const char* base, const char* end) noexcept;
  bool finish_field(const char* base) noexcept;
  bool apply_field(std::string_view name, std::string_view value) noexcept;
  bool apply_transfer_coding(std::string_view coding) noexcept;
  bool judge() noexcept;
  bool fail(int status, std::string_view detail) noexcept;  // always false
  bool suspend(const char* base, const char* at) noexcept;   // out of bytes; always false
  std::size_t request_line_limit() const noexcept;           // offset where the request line passes its limit
  ParseResult deliver(std::string_view buffer, RequestHead& out) const noexcept;

  // Everything but the field spans, so reset() is one assignment.
  struct State {
    Phase phase = Phase::kLeadingLine;
    TargetForm form = TargetForm::kUndecided;
    Method method = Method::kUnknown;
    bool authority_checked = false;
    std::uint8_t version_matched = 0;  // bytes of "HTTP/D.D" seen
    char version_major = 0;
    char version_minor = 0;
    std::uint32_t field_count = 0;
    std::size_t pos = 0;               // the next byte to examine
    std::size_t request_start = 0;     // the method's first byte
    std::size_t method_end = 0;
    std::size_t target_start = 0;
    std::size_t target_end = 0;
    std::size_t query_start = 0;       // 0: no '?' (a query never starts at offset 0)
    std::size_t authority_start = 0;   // absolute-form only
    std::size_t path_start = 0;        // absolute-form only; 0: no path, which means "/"
    std::size_t line_start = 0;        // the current field line's first byte
    std::size_t name_end = 0;
    std::size_t value_start = 0;
    std::size_t value_end = 0;         // before the CR, trailing OWS included
    ParseResult verdict;               // once kComplete or kFailed
    Facts facts;
  };

  const ParserLimits* limits_;
  std::size_t examined_ = 0;
  State s_;
  std::array<FieldSpans, kMaxHeaders> fields_;  // only the first s_.field_count are meaningful
};

}  // namespace http
