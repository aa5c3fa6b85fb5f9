// The connection state machine the server runs (http::Connection, sans-I/O) on arbitrary byte streams,
// driven the way the server drives it: socket events reported, then advance(now) and its Directive obeyed.
// The client sends only while the directive asks for input, in reads of arbitrary sizes (sometimes straight
// into direct_input()); it reads responses through iovec arrays of arbitrary sizes, taking arbitrary parts
// of them or none (a write that would block); the clock is the fuzzer's own and moves in steps before the
// deadline the directive names, or (with events) to and past it; shutdown and peer close come at arbitrary
// moments. The handler (fuzz_connection_handler.h) is a bucket store with the service's routing rules that
// answers some requests later, and some inputs run under small memory budgets.
//
// Input: byte 0 holds flags, byte 1 features, bytes 2-3 seed the schedule, the rest is the stream.
//   flags bits 0-1: mode. 0, 1: the stream is sent as is. 2, 3: the stream is the body of a valid
//                   "PUT /api/buckets/outer" framed by Content-Length (2) or chunked (3).
//   raw mode:       bits 2-3 pick the limits; bit 4 enables events (deadlines passed, drain, early peer close).
//   wrapped mode:   bit 2 takes the stream's bytes before its first blank line as extra header fields of
//                   the PUT; bit 3 adds Expect: 100-continue; bit 4 appends "GET /api/buckets/outer";
//                   bit 7 puts the framing header after the extra fields.
//   bit 5: the peer closes after sending everything. bit 6: one byte per read.
//   features bit 0: every request is answered later; bit 1: every other one is; bits 2-3: budgets (0 none,
//   1 generous, 2 small body budget, 3 small body and buffer budgets); bit 4: body bytes go through
//   direct_input() when it offers room; bit 5: bodies must average 10 bytes/s. Bits 6-7 are ignored, so
//   '@' (0x40) means no feature.
//
// Invariants, for every input:
//  - each parsed head gets on_request_begin and exactly one on_request_end; it gets exactly one final
//    response unless the peer went away (or the connection was destroyed) before it was answered
//  - handler calls come in the documented order (begin, admit_body only for an announced body — once for
//    Content-Length, per chunk with the running total for chunked — handle, response, end), one request
//    at a time, and each response record carries its request's tag
//  - the output parses as a sequence of complete responses in request order, each with one Content-Length
//    and one Date, one final response per on_response call with its status and its exact body, 100
//    Continue only for requests that asked
//  - a response the connection makes itself (refused framing, timeout, budget, handler failure) says
//    Connection: close, and once it is written the directive closes; a 503 for a spent budget carries
//    Retry-After; after a Connection: close response nothing more is written or read as a request
//  - deferred answers: while one is pending the directive does not ask for input and the connection reads
//    no request; completing one wakes the owner once; completing twice, or after the connection is gone,
//    does nothing
//  - budgets: no account ever passes its limit, and both are back at 0 once the connection is destroyed
//  - directives: write is true exactly while output is queued; a kept connection's deadline is in the
//    future; advancing before the deadline with nothing reported changes nothing; with nothing to write and
//    no answer pending a kept connection asks for input; kShutdownWrite comes at most once, only after a
//    refusal, and a refused peer is half-closed before it is closed unless it left first; kClose and kAbort
//    are final, and nothing is written after them; kClose comes with the output written; kAbort only for a
//    reader blocked for the write timeout (or a buffer budget the output cannot fit), which always gets it;
//    with events, every connection ends once its deadlines pass, unless a handler never answers
//  - without events, feeding the stream whole or in pieces (through direct_input() or not) gives the same
//    handler calls and responses
//  - wrapped mode: the store only ever sees the outer id, and the PUT stores exactly the stream: a request
//    inside a body is data, never a request
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "fuzz_connection_handler.h"
#include "fuzz_connection_run.h"
#include "fuzz_connection_wire.h"
#include "http/connection.h"

namespace fuzz_connection {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kOuterId = "outer";

http::ConnectionLimits raw_limits(unsigned profile) {
  http::ConnectionLimits limits;
  switch (profile) {
    case 0:
      break;  // the server's defaults
    case 1:
      limits.parser.max_request_line = 48;
      limits.parser.max_head_bytes = 200;
      limits.max_body_bytes = 64;
      limits.output_high_watermark = 128;
      limits.max_queued_slices = 1;
      limits.keep_buffer_bytes = 0;
      break;
    case 2:
      limits.max_body_bytes = 1024;
      limits.output_high_watermark = 1;  // every response pauses parsing
      break;
    default:
      limits.parser.max_request_line = 24;
      limits.parser.max_head_bytes = 96;
      limits.max_body_bytes = 0;
      limits.output_high_watermark = 512;
      break;
  }
  return limits;
}

http::ConnectionTimeouts fuzz_timeouts(bool min_rate) {
  http::ConnectionTimeouts t;
  t.header = 1000ms;
  t.body = 2000ms;
  t.idle = 5000ms;
  t.write = 3000ms;
  t.linger = 500ms;
  t.body_min_rate = min_rate ? 10 : 0;
  return t;
}

// Budgets small enough to be spent by the stream, picked by the seed so the fuzzer can try several.
void set_budgets(unsigned profile, std::uint64_t seed, Plan& plan) {
  static constexpr std::size_t kSmallBodies[] = {1, 64, 700, 5000};
  static constexpr std::size_t kSmallBuffers[] = {3000, 4096, 8192, 12288, 16384, 20000, 40000, 70000};
  switch (profile) {
    case 0:
      return;
    case 1:
      plan.bodies_limit = plan.buffers_limit = 64u << 20;
      return;
    case 2:
      plan.bodies_limit = kSmallBodies[seed & 3u];
      plan.buffers_limit = 64u << 20;
      return;
    default:
      plan.bodies_limit = kSmallBodies[seed & 3u];
      plan.buffers_limit = kSmallBuffers[(seed >> 2) & 7u];
      return;
  }
}

// The PUT around the body: optional extra fields (each line stripped of CR and LF, so they stay inside the
// head), the framing header before or after them, and the body framed by Content-Length or chunked.
struct Wrapping {
  bool chunked = false;
  bool expect_continue = false;
  bool framing_last = false;
  bool trailing_get = false;
  std::string_view extra_fields;
};

std::string chunk_encode(std::string_view body, Rng& rng) {
  static constexpr char kLower[] = "0123456789abcdef";
  static constexpr char kUpper[] = "0123456789ABCDEF";
  std::string out;
  while (!body.empty()) {
    const std::size_t size = std::min<std::size_t>(body.size(), rng.below(3) == 0 ? body.size() : 1 + rng.below(64));
    const char* digits = rng.below(2) == 0 ? kLower : kUpper;
    std::string hex;
    for (std::size_t v = size; v > 0; v /= 16) hex.insert(hex.begin(), digits[v % 16]);
    out.append(rng.below(4), '0');  // leading zeros are allowed
    out += hex;
    if (rng.below(4) == 0) out += ";ext=\"a b\"";
    out += "\r\n";
    out.append(body.substr(0, size));
    out += "\r\n";
    body.remove_prefix(size);
  }
  out += "0\r\n";
  if (rng.below(2) == 0) out += "X-Trailer: 1\r\n";
  out += "\r\n";
  return out;
}

std::string wrap(std::string_view body, const Wrapping& wrapping, Rng& rng) {
  std::string framing = wrapping.chunked ? std::string("Transfer-Encoding: chunked\r\n")
                                         : "Content-Length: " + std::to_string(body.size()) + "\r\n";
  std::string out = "PUT /api/buckets/outer HTTP/1.1\r\nHost: x\r\n";
  if (wrapping.expect_continue) out += "Expect: 100-continue\r\n";
  if (!wrapping.framing_last) out += framing;
  std::string_view extra = wrapping.extra_fields;
  while (!extra.empty()) {
    const std::size_t end = extra.find("\r\n");
    std::string line;
    for (const char c : extra.substr(0, end)) {
      if (c != '\r' && c != '\n') line += c;
    }
    if (!line.empty()) out += line + "\r\n";  // an empty line would end the head
    extra.remove_prefix(end == std::string_view::npos ? extra.size() : end + 2);
  }
  if (wrapping.framing_last) out += framing;
  out += "\r\n";
  out += wrapping.chunked ? chunk_encode(body, rng) : std::string(body);
  if (wrapping.trailing_get) out += "GET /api/buckets/outer HTTP/1.1\r\nHost: x\r\n\r\n";
  return out;
}

// A request inside the body is data: whatever the extra fields did to the head, the store saw only the
// outer id, and a PUT that ran stored the body exactly.
void check_wrapped(RunResult& result, std::string_view body, const Wrapping& wrapping, const Plan& plan) {
  for (const HandledCall& call : result.handler.calls) {
    FUZZ_CHECK(call.id == kOuterId);
    if (call.method == http::Method::kPut) FUZZ_CHECK(call.body == body);
  }
  for (const auto& [id, value] : result.handler.store_) {
    FUZZ_CHECK(id == "big" || (id == kOuterId && value.view() == body));
  }
  // A plain wrapping is a valid exchange: with budgets that can hold it, it must be answered in full.
  const bool budgets_may_refuse = (plan.bodies_limit != 0 && plan.bodies_limit < (1u << 20)) ||
                                  (plan.buffers_limit != 0 && plan.buffers_limit < (1u << 20));
  if (!wrapping.extra_fields.empty() || budgets_may_refuse) return;
  const std::size_t expected = wrapping.trailing_get ? 2 : 1;
  FUZZ_CHECK(result.handler.calls.size() == expected);
  FUZZ_CHECK(result.handler.calls[0].method == http::Method::kPut);
  FUZZ_CHECK(result.responses.size() == expected);
  for (const WireResponse& response : result.responses) FUZZ_CHECK(response.status == 200);
  if (wrapping.trailing_get) FUZZ_CHECK(result.responses[1].body == body);
  FUZZ_CHECK(result.closed == plan.peer_closes_at_end);
}

bool same_exchange(const RunResult& a, const RunResult& b) {
  if (a.handler.transcript != b.handler.transcript || a.responses.size() != b.responses.size() ||
      a.closed != b.closed) {
    return false;
  }
  for (std::size_t i = 0; i < a.responses.size(); ++i) {
    if (a.responses[i].normalized != b.responses[i].normalized) return false;
  }
  return true;
}

}  // namespace
}  // namespace fuzz_connection

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fuzz_connection;
  if (size < 4) return 0;
  const unsigned flags = data[0];
  const unsigned features = data[1];
  const std::uint64_t seed = static_cast<std::uint64_t>(data[2]) << 8 | data[3];
  const std::string_view input(reinterpret_cast<const char*>(data + 4), size - 4);
  const bool wrapped = (flags & 3u) >= 2;

  Plan plan;
  plan.seed = seed;
  plan.bytewise = (flags & 0x40u) != 0;
  plan.peer_closes_at_end = (flags & 0x20u) != 0;
  plan.defer.all = (features & 0x01u) != 0;
  plan.defer.odd = (features & 0x02u) != 0;
  set_budgets((features >> 2) & 3u, seed, plan);
  plan.direct = (features & 0x10u) != 0;
  plan.config.timeouts = fuzz_timeouts((features & 0x20u) != 0);

  std::string stream;
  Wrapping wrapping;
  std::string_view body = input;
  if (wrapped) {
    wrapping.chunked = (flags & 3u) == 3;
    wrapping.expect_continue = (flags & 0x08u) != 0;
    wrapping.trailing_get = (flags & 0x10u) != 0;
    wrapping.framing_last = (flags & 0x80u) != 0;
    if ((flags & 0x04u) != 0) {
      const std::size_t blank = input.find("\r\n\r\n");
      if (blank != std::string_view::npos) {
        wrapping.extra_fields = input.substr(0, blank);
        body = input.substr(blank + 4);
      }
    }
    plan.config.limits.max_body_bytes = 1u << 20;
    if ((seed & 1u) != 0) plan.config.limits.output_high_watermark = 64;
    Rng encoder(seed);
    stream = wrap(body, wrapping, encoder);
  } else {
    plan.config.limits = raw_limits((flags >> 2) & 3u);
    plan.events = (flags & 0x10u) != 0;
    stream.assign(input);
  }

  RunResult pieces(plan);
  run(stream, plan, pieces);
  if (wrapped) check_wrapped(pieces, body, wrapping, plan);

  // Without events the schedule must not matter: the same stream in one read gives the same exchange. A
  // small buffer budget is the exception: how much input must be held depends on how it arrives.
  const bool small_buffers = plan.buffers_limit != 0 && plan.buffers_limit < (1u << 20);
  if (!plan.events && !small_buffers) {
    Plan whole_plan = plan;
    whole_plan.whole = true;
    RunResult whole(whole_plan);
    run(stream, whole_plan, whole);
    FUZZ_CHECK(same_exchange(pieces, whole));
  }
  return 0;
}
