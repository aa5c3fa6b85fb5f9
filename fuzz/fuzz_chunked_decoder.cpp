// ChunkedDecoder on arbitrary bytes, fed whole, one byte at a time, and in pieces cut where the input says,
// under generous, small, and input-sized limits.
//
// Invariants:
//  - every way of splitting the input gives the same status, consumed count, error status and body
//  - kNeedMore consumes all input it was given; kDone and kError consume no more than given
//  - errors only with 400, 413 or 431; the body never grows beyond max_body_bytes
//  - once done or failed, the decoder answers the same again without consuming anything; reset() makes it
//    decode the same input to the same result
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "http/chunked_decoder.h"

namespace {

using http::ChunkedDecoder;

struct Limits {
  std::size_t max_body;
  std::size_t max_line;
  std::size_t max_trailer;
};

struct Outcome {
  ChunkedDecoder::Status status = ChunkedDecoder::Status::kNeedMore;
  std::size_t consumed = 0;
  int error_status = 0;
  std::string body;

  bool operator==(const Outcome&) const = default;
};

void check_step(const ChunkedDecoder::Result& result, std::size_t given, const std::string& body,
                const Limits& limits) {
  FUZZ_CHECK(result.consumed <= given);
  FUZZ_CHECK(body.size() <= limits.max_body);
  switch (result.status) {
    case ChunkedDecoder::Status::kNeedMore:
      FUZZ_CHECK(result.consumed == given);
      FUZZ_CHECK(result.error_status == 0);
      break;
    case ChunkedDecoder::Status::kDone:
      FUZZ_CHECK(result.error_status == 0);
      break;
    case ChunkedDecoder::Status::kError:
      FUZZ_CHECK(result.error_status == 400 || result.error_status == 413 || result.error_status == 431);
      break;
  }
}

// Feeds `input` cut before each position for which cut_here(position) is true, the way a connection hands
// over whatever each read brought.
template <typename CutHere>
Outcome decode_in_pieces(ChunkedDecoder& decoder, std::string_view input, const Limits& limits, CutHere cut_here) {
  Outcome outcome;
  std::size_t start = 0;
  while (start < input.size()) {
    std::size_t end = start + 1;
    while (end < input.size() && !cut_here(end)) ++end;
    const std::string_view piece = input.substr(start, end - start);
    const ChunkedDecoder::Result result = decoder.feed(piece, outcome.body);
    check_step(result, piece.size(), outcome.body, limits);
    outcome.status = result.status;
    outcome.consumed += result.consumed;
    outcome.error_status = result.error_status;
    if (result.status != ChunkedDecoder::Status::kNeedMore) return outcome;
    start = end;
  }
  return outcome;
}

void check_finished_stays_finished(ChunkedDecoder& decoder, const Outcome& outcome, std::string_view input) {
  if (outcome.status == ChunkedDecoder::Status::kNeedMore) return;
  std::string body = outcome.body;
  const ChunkedDecoder::Result again = decoder.feed(input, body);
  FUZZ_CHECK(again.status == outcome.status);
  FUZZ_CHECK(again.consumed == 0);
  FUZZ_CHECK(again.error_status == outcome.error_status);
  FUZZ_CHECK(body == outcome.body);
}

void check_with_limits(std::string_view input, const Limits& limits, std::uint64_t cut_seed) {
  ChunkedDecoder decoder(limits.max_body, limits.max_line, limits.max_trailer);

  Outcome whole;
  {
    const ChunkedDecoder::Result result = decoder.feed(input, whole.body);
    check_step(result, input.size(), whole.body, limits);
    whole.status = result.status;
    whole.consumed = result.consumed;
    whole.error_status = result.error_status;
  }
  check_finished_stays_finished(decoder, whole, input);

  decoder.reset();
  const Outcome bytewise = decode_in_pieces(decoder, input, limits, [](std::size_t) { return true; });
  FUZZ_CHECK(bytewise == whole);

  // Cuts where the input's own bytes say, so that mutations move them around.
  decoder.reset();
  const Outcome pieces = decode_in_pieces(decoder, input, limits, [&](std::size_t position) {
    const auto byte = static_cast<unsigned char>(input[position - 1]);
    return ((byte ^ cut_seed ^ position) & 7u) == 0;
  });
  FUZZ_CHECK(pieces == whole);
  check_finished_stays_finished(decoder, pieces, input);

  // An empty read changes nothing.
  decoder.reset();
  std::string body;
  const ChunkedDecoder::Result empty = decoder.feed({}, body);
  FUZZ_CHECK(empty.status == ChunkedDecoder::Status::kNeedMore && empty.consumed == 0 && body.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::uint64_t cut_seed = size > 0 ? data[size / 2] : 0;

  check_with_limits(input, Limits{1u << 20, 4096, 8192}, cut_seed);
  check_with_limits(input, Limits{16, 8, 24}, cut_seed);
  check_with_limits(input, Limits{0, 1, 0}, cut_seed);
  // Limits at the input's size put every limit on a boundary the input can reach.
  check_with_limits(input, Limits{size / 4, size / 8 + 1, size / 3}, cut_seed);
  return 0;
}
