// The connection state machine the server runs (http::Connection, without sockets) on arbitrary byte
// streams, delivered in reads of arbitrary sizes, with the client reading responses in arbitrary pieces and
// timeouts, graceful drain and peer close arriving at arbitrary moments. The handler is a bucket store on a
// std::map with the service's routing rules.
//
// Input: byte 0 holds flags, bytes 1-2 seed the schedule (read sizes, drain sizes, event moments), the rest
// is the stream.
//   flags bits 0-1: mode. 0, 1: the stream is sent as is. 2, 3: the stream is the body of a valid
//                   "PUT /api/buckets/outer" framed by Content-Length (2) or chunked (3).
//   raw mode:       bits 2-3 pick the limits; bit 4 enables timeouts, drain and early peer close.
//   wrapped mode:   bit 2 takes the stream's bytes before its first blank line as extra header fields of
//                   the PUT; bit 3 adds Expect: 100-continue; bit 4 appends "GET /api/buckets/outer";
//                   bit 7 puts the framing header after the extra fields.
//   bit 5: the peer closes after sending everything. bit 6: one byte per read.
//
// Invariants, for every input:
//  - each parsed head gets on_request_begin and exactly one on_request_end; it gets exactly one final
//    response unless the peer went away (or the connection was destroyed) before it was complete
//  - handler calls come in the documented order (begin, precheck, handle, response, end)
//  - the output parses as a sequence of complete responses, each with one Content-Length and one Date, one
//    final response per on_response call and with its status, 100 Continue only for requests that asked
//  - a response the connection makes itself (refused framing, timeout) says Connection: close, and
//    should_close() is true right after it; after a Connection: close response nothing more is written
//  - without events, feeding the stream whole or in pieces gives the same handler calls and responses
//  - wrapped mode: the store only ever sees the outer id, and the PUT stores exactly the stream: a request
//    inside a body is data, never a request
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "base/shared_bytes.h"
#include "http/connection.h"
#include "http/router.h"

namespace {

using Clock = http::Connection::Clock;

constexpr std::string_view kOuterId = "outer";

// splitmix64: a few lines, good enough to spread a 16-bit seed over read and drain sizes.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) noexcept : state_(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) noexcept { return n == 0 ? 0 : static_cast<std::size_t>(next() % n); }

 private:
  std::uint64_t state_;
};

// What the handler saw of one final response, in on_response order.
struct ResponseRecord {
  int status = 0;
  bool head_request = false;   // answered without a body
  bool from_connection = false;  // not authored by the handler: a refusal or timeout by the connection
};

struct HandledCall {
  http::Method method = http::Method::kUnknown;
  std::string id;
  std::string body;
};

// The service's semantics on a std::map: PUT stores, GET/HEAD return, DELETE erases (400 when absent).
// Routing refusals follow StorageService: answered early unless a body is on its way; "full" plays a bucket
// that cannot fit (refused before its body); "bye" asks for the connection to close.
class BucketHandler final : public http::Handler {
 public:
  void on_request_begin(const http::RequestHead& head) override {
    FUZZ_CHECK(!active_);
    active_ = true;
    prechecked_ = false;
    handled_ = false;
    answered_ = false;
    authored_ = false;
    ++begun;
    if (head.expect_continue && head.version_minor == 1) ++continue_requests;
    transcript += "B";
  }

  bool precheck(const http::RequestHead& head, http::Response& refusal) override {
    FUZZ_CHECK(active_ && !prechecked_ && !answered_);
    prechecked_ = true;
    transcript += "P";
    match_ = http::match_route(head.path, id_buffer_);
    if ((!head.has_body() || head.expect_continue) && refuse_by_route(head, refusal)) {
      authored_ = true;
      return false;
    }
    if (head.method == http::Method::kPut && match_.route == http::Route::kBucket && !match_.bad_id &&
        match_.id == "full") {
      refusal = http::Response::error(507);
      authored_ = true;
      return false;
    }
    return true;
  }

  void handle(const http::RequestHead& head, std::string& body, http::Response& response) override {
    FUZZ_CHECK(active_ && prechecked_ && !handled_ && !answered_);
    handled_ = true;
    authored_ = true;
    if (!head.has_body()) FUZZ_CHECK(body.empty());
    if (head.has_content_length) FUZZ_CHECK(body.size() == head.content_length);
    transcript += "H";
    transcript += http::method_name(head.method);
    transcript += head.target;
    transcript += ' ';
    transcript += std::to_string(body.size());
    transcript += ':';
    transcript += body;
    if (refuse_by_route(head, response)) return;
    if (match_.route != http::Route::kBucket) {
      response.content_type = "text/plain";
      response.body = "fixed";
      return;
    }
    const std::string id(match_.id);
    calls.push_back(HandledCall{head.method, id, body});
    if (id == "bye") response.close = true;
    switch (head.method) {
      case http::Method::kGet:
      case http::Method::kHead: {
        const auto found = store.find(id);
        if (found == store.end()) {
          response = http::Response::error(404);
          return;
        }
        response.content_type = http::kOctetStreamContentType;
        response.body = found->second.view();
        response.body_owner = found->second;
        return;
      }
      case http::Method::kPut:
        store[id] = base::SharedBytes::copy_of(body);
        return;
      case http::Method::kDelete:
        if (store.erase(id) == 0) response = http::Response::error(400);
        return;
      default:
        response = http::Response::error(405);
        return;
    }
  }

  void on_request_end() override {
    FUZZ_CHECK(active_);
    // Only a peer that went away, or the owner destroying the connection, may leave a request unanswered.
    if (!answered_) FUZZ_CHECK(abandon_allowed);
    active_ = false;
    ++ended;
    transcript += "E";
  }

  void on_response(const http::RequestHead* head, int status, std::chrono::nanoseconds elapsed) override {
    FUZZ_CHECK(elapsed.count() >= 0);
    ResponseRecord record;
    record.status = status;
    if (head == nullptr) {
      FUZZ_CHECK(!active_);
      record.from_connection = true;
    } else {
      FUZZ_CHECK(active_ && !answered_);
      answered_ = true;
      record.head_request = head->method == http::Method::kHead;
      record.from_connection = !authored_;
    }
    if (record.from_connection) {
      FUZZ_CHECK(status == 400 || status == 408 || status == 411 || status == 413 || status == 414 ||
                 status == 417 || status == 431 || status == 501 || status == 505);
      ++connection_refusals;
    }
    responses.push_back(record);
    transcript += "R";
    transcript += std::to_string(status);
  }

  bool active() const noexcept { return active_; }

  std::map<std::string, base::SharedBytes, std::less<>> store;
  std::vector<HandledCall> calls;
  std::vector<ResponseRecord> responses;
  std::string transcript;  // every call in order, for comparing two runs of the same stream
  int begun = 0;
  int ended = 0;
  int continue_requests = 0;
  int connection_refusals = 0;
  bool abandon_allowed = false;

 private:
  bool refuse_by_route(const http::RequestHead& head, http::Response& response) const {
    if (match_.route == http::Route::kUnmatched) {
      response = http::Response::error(404);
    } else if (!http::route_allows(match_.route, head.method)) {
      response = http::Response::error(405);
      response.allow = http::route_allow_header(match_.route);
    } else if (match_.route == http::Route::kBucket && match_.bad_id) {
      response = http::Response::error(400);
    } else {
      return false;
    }
    return true;
  }

  std::string id_buffer_;
  http::RouteMatch match_;
  bool active_ = false;
  bool prechecked_ = false;
  bool handled_ = false;
  bool answered_ = false;
  bool authored_ = false;
};

// One response as a client reads it; `normalized` is its bytes without the Date value.
struct WireResponse {
  int status = 0;
  bool close = false;
  std::string_view body;
  std::string normalized;
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// An independent reader of the output: status line, fields, and a body of Content-Length bytes (none for a
// HEAD request, which only the handler's records can tell).
std::vector<WireResponse> read_responses(std::string_view wire, const std::vector<ResponseRecord>& records,
                                         int continue_requests) {
  std::vector<WireResponse> responses;
  int interim = 0;
  std::size_t pos = 0;
  while (pos < wire.size()) {
    const std::size_t blank = wire.find("\r\n\r\n", pos);
    FUZZ_CHECK(blank != std::string_view::npos);
    std::string_view head = wire.substr(pos, blank + 2 - pos);
    pos = blank + 4;

    const std::size_t status_end = head.find("\r\n");
    const std::string_view status_line = head.substr(0, status_end);
    FUZZ_CHECK(status_line.size() > 13 && status_line.starts_with("HTTP/1.1 ") && status_line[12] == ' ');
    FUZZ_CHECK(is_digit(status_line[9]) && is_digit(status_line[10]) && is_digit(status_line[11]));
    const int status = (status_line[9] - '0') * 100 + (status_line[10] - '0') * 10 + (status_line[11] - '0');
    head.remove_prefix(status_end + 2);
    if (status == 100) {
      FUZZ_CHECK(head.empty());
      ++interim;
      continue;
    }
    FUZZ_CHECK(status >= 200);

    WireResponse response;
    response.status = status;
    response.normalized.assign(status_line);
    int content_lengths = 0;
    int dates = 0;
    std::uint64_t content_length = 0;
    while (!head.empty()) {
      const std::size_t line_end = head.find("\r\n");
      const std::string_view line = head.substr(0, line_end);
      head.remove_prefix(line_end + 2);
      const std::size_t colon = line.find(": ");
      FUZZ_CHECK(colon != std::string_view::npos && colon > 0);
      const std::string_view name = line.substr(0, colon);
      const std::string_view value = line.substr(colon + 2);
      if (name == "Date") {
        ++dates;
        FUZZ_CHECK(value.size() == 29 && value.ends_with(" GMT") && value[3] == ',');
        continue;
      }
      response.normalized += '|';
      response.normalized += line;
      if (name == "Content-Length") {
        ++content_lengths;
        FUZZ_CHECK(!value.empty() && value.size() <= 19);
        for (const char c : value) {
          FUZZ_CHECK(is_digit(c));
          content_length = content_length * 10 + static_cast<std::uint64_t>(c - '0');
        }
      }
      if (name == "Connection") {
        FUZZ_CHECK(value == "close" || value == "keep-alive");
        response.close = value == "close";
      }
    }
    FUZZ_CHECK(content_lengths == 1);
    FUZZ_CHECK(dates == 1);

    FUZZ_CHECK(responses.size() < records.size());
    const ResponseRecord& record = records[responses.size()];
    FUZZ_CHECK(status == record.status);
    if (record.from_connection) FUZZ_CHECK(response.close);
    const std::size_t body_bytes = record.head_request ? 0 : static_cast<std::size_t>(content_length);
    FUZZ_CHECK(wire.size() - pos >= body_bytes);
    response.body = wire.substr(pos, body_bytes);
    response.normalized += '|';
    response.normalized += response.body;
    pos += body_bytes;
    // Nothing may follow a response that announced the connection's end.
    if (response.close) FUZZ_CHECK(pos == wire.size());
    responses.push_back(std::move(response));
  }
  FUZZ_CHECK(responses.size() == records.size());
  FUZZ_CHECK(interim <= continue_requests);
  return responses;
}

struct Plan {
  http::ConnectionLimits limits;
  std::uint64_t seed = 0;
  bool bytewise = false;
  bool whole = false;  // the stream in one read
  bool events = false;
  bool peer_closes_at_end = false;
};

struct RunResult {
  std::string wire;  // everything the client read
  BucketHandler handler;
  std::vector<WireResponse> responses;
  bool closed = false;
};

// Drives one Connection through the stream as the server would, checking the invariants as it goes.
class Run {
 public:
  Run(const Plan& plan, RunResult& result) : plan_(plan), rng_(plan.seed), result_(result) {
    connection_.emplace(plan.limits, result.handler, dates_);
  }

  void execute(std::string_view stream) {
    std::size_t sent = 0;
    bool peer_closed = false;
    while (sent < stream.size() && !peer_closed) {
      // The server stops reading while its output is over the watermark: the client must read first.
      while (!conn().wants_input() && !conn().should_close()) {
        drain(1 + rng_.below(conn().output().size()));
        step([&] { conn().process(Clock::now()); });
      }
      if (conn().should_close() && !plan_.events) break;
      const std::size_t left = stream.size() - sent;
      const std::size_t n = plan_.whole ? left : plan_.bytewise ? 1 : read_size(left);
      step([&] {
        conn().input().append(stream.substr(sent, n));
        conn().process(Clock::now());
      });
      sent += n;
      if (rng_.below(3) == 0) drain(rng_.below(conn().output().size() + 1));
      if (plan_.events && rng_.below(12) == 0) peer_closed = inject_event();
    }
    // Events also come after the last byte, when a connection is most often idle.
    if (plan_.events && !peer_closed && rng_.below(2) == 0) peer_closed = inject_event();
    if (plan_.peer_closes_at_end && !peer_closed) {
      result_.handler.abandon_allowed = true;
      step([&] { conn().on_peer_closed(Clock::now()); });
    }
    settle(stream.size());
    result_.closed = conn().should_close();
    result_.handler.abandon_allowed = true;
    connection_.reset();
    FUZZ_CHECK(result_.handler.begun == result_.handler.ended);
    FUZZ_CHECK(!result_.handler.active());
    result_.responses = read_responses(result_.wire, result_.handler.responses, result_.handler.continue_requests);
    if (!result_.responses.empty() && result_.responses.back().close) FUZZ_CHECK(result_.closed);
  }

 private:
  http::Connection& conn() { return *connection_; }

  std::size_t read_size(std::size_t left) {
    switch (rng_.below(4)) {
      case 0: return 1;
      case 1: return 1 + rng_.below(std::min<std::size_t>(left, 8));
      case 2: return 1 + rng_.below(std::min<std::size_t>(left, 64));
      default: return 1 + rng_.below(left);
    }
  }

  void drain(std::size_t n) {
    const std::string_view out = conn().output().readable();
    n = std::min(n, out.size());
    result_.wire.append(out.substr(0, n));
    conn().output().consume(n);
  }

  // Runs one operation on the connection, then checks what must hold between operations.
  template <typename Operation>
  void step(Operation operation) {
    operation();
    const bool closing = conn().should_close();
    FUZZ_CHECK(closing || !was_closing_);  // closing is final
    const std::size_t produced = result_.wire.size() + conn().output().size();
    if (was_closing_) FUZZ_CHECK(produced == produced_when_closing_);  // nothing is written after the end
    if (closing && !was_closing_) {
      was_closing_ = true;
      produced_when_closing_ = produced;
    }
    // A response the connection made itself means framing it cannot trust: it must be closing now.
    if (result_.handler.connection_refusals > 0) FUZZ_CHECK(closing);
    FUZZ_CHECK(conn().wants_input() ==
               (!closing && conn().output().size() < plan_.limits.output_high_watermark));
    if (closing) FUZZ_CHECK(conn().phase() == http::Connection::Phase::kClosing);
  }

  // Returns true when the peer closed, after which nothing more is sent.
  bool inject_event() {
    switch (rng_.below(3)) {
      case 0:
        step([&] { conn().on_timeout(); });
        FUZZ_CHECK(conn().should_close());
        return false;
      case 1:
        step([&] { conn().begin_drain(); });
        return false;
      default:
        result_.handler.abandon_allowed = true;
        step([&] { conn().on_peer_closed(Clock::now()); });
        return true;
    }
  }

  // The client reads everything until the connection neither writes nor consumes any more. Each round
  // must make progress, so the number of rounds is bounded by the bytes there are to process.
  void settle(std::size_t stream_size) {
    for (std::size_t rounds = 0;; ++rounds) {
      FUZZ_CHECK(rounds <= stream_size + 4);
      drain(conn().output().size());
      const std::size_t input_before = conn().input().size();
      step([&] { conn().process(Clock::now()); });
      if (conn().output().empty() && conn().input().size() == input_before) return;
    }
  }

  const Plan& plan_;
  Rng rng_;
  RunResult& result_;
  http::DateCache dates_;
  std::optional<http::Connection> connection_;
  bool was_closing_ = false;
  std::size_t produced_when_closing_ = 0;
};

void run(std::string_view stream, const Plan& plan, RunResult& result) { Run(plan, result).execute(stream); }

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
    const std::size_t size = std::min(body.size(), rng.below(3) == 0 ? body.size() : 1 + rng.below(64));
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
void check_wrapped(const RunResult& result, std::string_view body, const Wrapping& wrapping, bool peer_closes) {
  for (const HandledCall& call : result.handler.calls) {
    FUZZ_CHECK(call.id == kOuterId);
    if (call.method == http::Method::kPut) FUZZ_CHECK(call.body == body);
  }
  for (const auto& [id, value] : result.handler.store) {
    FUZZ_CHECK(id == kOuterId && value.view() == body);
  }
  if (!wrapping.extra_fields.empty()) return;

  // A plain wrapping is a valid exchange: it must be answered in full.
  const std::size_t expected = wrapping.trailing_get ? 2 : 1;
  FUZZ_CHECK(result.handler.calls.size() == expected);
  FUZZ_CHECK(result.handler.calls[0].method == http::Method::kPut);
  FUZZ_CHECK(result.responses.size() == expected);
  for (const WireResponse& response : result.responses) FUZZ_CHECK(response.status == 200);
  if (wrapping.trailing_get) FUZZ_CHECK(result.responses[1].body == body);
  FUZZ_CHECK(result.closed == peer_closes);
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

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const unsigned flags = data[0];
  const std::uint64_t seed = static_cast<std::uint64_t>(data[1]) << 8 | data[2];
  const std::string_view input(reinterpret_cast<const char*>(data + 3), size - 3);
  const bool wrapped = (flags & 3u) >= 2;

  Plan plan;
  plan.seed = seed;
  plan.bytewise = (flags & 0x40u) != 0;
  plan.peer_closes_at_end = (flags & 0x20u) != 0;

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
    plan.limits.max_body_bytes = 1u << 20;
    if ((seed & 1u) != 0) plan.limits.output_high_watermark = 64;
    Rng encoder(seed);
    stream = wrap(body, wrapping, encoder);
  } else {
    plan.limits = raw_limits((flags >> 2) & 3u);
    plan.events = (flags & 0x10u) != 0;
    stream.assign(input);
  }

  RunResult pieces;
  run(stream, plan, pieces);
  if (wrapped) check_wrapped(pieces, body, wrapping, plan.peer_closes_at_end);

  // Without events the schedule must not matter: the same stream in one read gives the same exchange.
  if (!plan.events) {
    Plan whole_plan = plan;
    whole_plan.whole = true;
    RunResult whole;
    run(stream, whole_plan, whole);
    FUZZ_CHECK(same_exchange(pieces, whole));
  }
  return 0;
}
