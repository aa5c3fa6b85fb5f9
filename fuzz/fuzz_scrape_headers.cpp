// The request fields a client controls that shape what we answer beyond the routes: Accept (AcceptReader,
// negotiate_format), traceparent (parse_traceparent) and X-Request-Id (is_valid_request_id, RequestId).
//
// Input: the lines of the input. Line 0 is an Accept value, line 1 a traceparent, line 2 an X-Request-Id;
// the whole input is also read as one Accept value and one traceparent.
//
// Invariants:
//  - AcceptReader ends within size + 1 steps; every range's type and subtype are non-empty views inside the
//    input, "*" for the type only with "*" for the subtype; at most kMaxMediaRangeParameters parameters,
//    each a non-empty name and value inside the input, none named q; weights within 0..1000
//  - negotiate_format never answers protobuf unless offered, and offering it changes the answer only to
//    protobuf; without quoted-strings, the answer is the same when the field is split at its first comma
//    into two fields (the two halves make the same list)
//  - a parsed traceparent is lowercase hex with dashes at 2, 35 and 52, ids not all zeros, not version ff;
//    rebuilt as version 00 it parses to the same ids
//  - RequestId from the three fields: its text is the trace-id of a valid unique traceparent, else the
//    X-Request-Id when valid, else 32 lowercase hex digits; the response field is a traceparent that
//    parses with the same trace-id, or X-Request-Id with the text; padded() is the text then zeros
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "http/accept.h"
#include "http/request_id.h"
#include "metrics/format.h"

namespace {

bool inside(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

bool is_lower_hex(std::string_view text) {
  return text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

void check_accept(std::string_view accept) {
  http::AcceptReader reader(accept);
  http::MediaRange range;
  std::size_t steps = 0;
  for (;;) {
    const http::AcceptReader::Step step = reader.next(range);
    FUZZ_CHECK(++steps <= accept.size() + 1);
    if (step == http::AcceptReader::Step::kEnd) break;
    if (step == http::AcceptReader::Step::kMalformed) continue;
    FUZZ_CHECK(!range.type.empty() && !range.subtype.empty());
    FUZZ_CHECK(inside(range.type, accept) && inside(range.subtype, accept));
    FUZZ_CHECK(!range.any_type() || range.any_subtype());
    FUZZ_CHECK(range.parameter_count <= http::kMaxMediaRangeParameters);
    FUZZ_CHECK(range.weight <= http::kMaxWeight);
    for (std::size_t i = 0; i < range.parameter_count; ++i) {
      const http::MediaParameter& p = range.parameters[i];
      FUZZ_CHECK(!p.name.empty() && !p.value.empty() && inside(p.name, accept) && inside(p.value, accept));
      FUZZ_CHECK(!(p.name.size() == 1 && (p.name[0] == 'q' || p.name[0] == 'Q')));
    }
  }

  const metrics::Format plain = metrics::negotiate_format(accept, false);
  const metrics::Format offered = metrics::negotiate_format(accept, true);
  FUZZ_CHECK(plain != metrics::Format::kProtobuf);
  FUZZ_CHECK(offered == plain || offered == metrics::Format::kProtobuf);

  // Without quoted-strings every comma ends an element: split at the first, two fields make one list.
  if (accept.find('"') == std::string_view::npos) {
    if (const std::size_t comma = accept.find(','); comma != std::string_view::npos) {
      metrics::FormatNegotiation split;
      split.consider(accept.substr(0, comma));
      split.consider(accept.substr(comma + 1));
      FUZZ_CHECK(split.choose(false) == plain);
    }
  }
}

void check_traceparent(std::string_view value) {
  http::TraceParent parent;
  if (!http::parse_traceparent(value, parent)) return;
  FUZZ_CHECK(value.size() >= http::kTraceparentBytes);
  FUZZ_CHECK(value[2] == '-' && value[35] == '-' && value[52] == '-');
  FUZZ_CHECK(value.substr(0, 2) != "ff" && is_lower_hex(value.substr(0, 2)));
  const std::string_view trace(parent.trace_id, http::kTraceIdHexDigits);
  const std::string_view span(parent.parent_id, http::kSpanIdHexDigits);
  FUZZ_CHECK(is_lower_hex(trace) && trace != std::string(32, '0'));
  FUZZ_CHECK(is_lower_hex(span) && span != std::string(16, '0'));
  FUZZ_CHECK(is_lower_hex({parent.flags, 2}));
  const std::string rebuilt = "00-" + std::string(trace) + "-" + std::string(span) + "-" + std::string(parent.flags, 2);
  http::TraceParent again;
  FUZZ_CHECK(http::parse_traceparent(rebuilt, again));
  FUZZ_CHECK(std::string_view(again.trace_id, 32) == trace && std::string_view(again.parent_id, 16) == span);
}

void check_request_id(std::string_view traceparent, std::string_view request_id, std::uint64_t seed) {
  http::RequestHead head;
  head.headers[head.header_count++] = http::Header{"traceparent", traceparent};
  head.headers[head.header_count++] = http::Header{"X-Request-Id", request_id};
  http::RequestIdGenerator generator(seed);
  http::RequestId id;
  id.assign(head, generator);
  http::TraceParent parent;
  const std::string_view text = id.text();
  if (http::parse_traceparent(traceparent, parent)) {
    FUZZ_CHECK(id.source() == http::RequestIdSource::kTraceparent);
    FUZZ_CHECK(text == std::string_view(parent.trace_id, 32));
    FUZZ_CHECK(id.field_name() == "traceparent");
    http::TraceParent echoed;
    FUZZ_CHECK(http::parse_traceparent(id.field_value(), echoed));
    FUZZ_CHECK(std::string_view(echoed.trace_id, 32) == text);
  } else if (http::is_valid_request_id(request_id)) {
    FUZZ_CHECK(id.source() == http::RequestIdSource::kHeader && text == request_id);
    FUZZ_CHECK(id.field_name() == "X-Request-Id" && id.field_value() == text);
  } else {
    FUZZ_CHECK(id.source() == http::RequestIdSource::kGenerated);
    FUZZ_CHECK(text.size() == 32 && is_lower_hex(text) && text != std::string(32, '0'));
    FUZZ_CHECK(id.field_name() == "X-Request-Id" && id.field_value() == text);
  }
  FUZZ_CHECK(text.size() <= http::kMaxRequestIdBytes && http::is_valid_request_id(text));
  const auto padded = id.padded();
  FUZZ_CHECK(std::string_view(padded.data(), text.size()) == text);
  for (std::size_t i = text.size(); i < padded.size(); ++i) FUZZ_CHECK(padded[i] == '\0');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> lines;
  for (std::size_t start = 0;;) {
    const std::size_t end = input.find('\n', start);
    lines.push_back(input.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  const auto line = [&](std::size_t i) { return i < lines.size() ? lines[i] : std::string_view(); };

  check_accept(line(0));
  check_accept(input);
  check_traceparent(line(1));
  check_traceparent(input);
  check_request_id(line(1), line(2), size);
  return 0;
}
