// ChunkedDecoder on arbitrary bytes, fed whole, one byte at a time, and in pieces cut where the input says,
// under generous, small, and input-sized limits, into a BodySink that sometimes refuses.
//
// Invariants:
//  - every way of splitting the input gives the same status, consumed count, error status, body and
//    sequence of reservations
//  - kNeedMore consumes all input it was given; kDone and kError consume no more than given
//  - errors only with 400, 413, 431 or the status the sink refused with; the body never grows beyond
//    max_body_bytes; a refused reservation is the error, and nothing is appended after it
//  - reserve() announces a chunk only once the previous chunk's data is all appended; append() never passes
//    what reserve() agreed to and never hands over an empty piece
//  - once done or failed, the decoder answers the same again without consuming anything or touching the
//    sink; reset() makes it decode the same input to the same result
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "http/body_sink.h"
#include "http/chunked_decoder.h"

namespace {

using http::ChunkedDecoder;

struct Limits {
  std::size_t max_body;
  std::size_t max_line;
  std::size_t max_trailer;
};

// Refuses (with `refusal`, when non-zero) the reservation that would pass `allowance` bytes in total.
struct SinkPolicy {
  std::uint64_t allowance = UINT64_MAX;
  int refusal = 0;
};

class CheckingSink final : public http::BodySink {
 public:
  explicit CheckingSink(const SinkPolicy& policy) noexcept : policy_(policy) {}

  int reserve(std::uint64_t bytes) noexcept override {
    FUZZ_CHECK(bytes > 0);
    FUZZ_CHECK(!refused_);
    FUZZ_CHECK(appended_ == reserved_);
    reservations.push_back(bytes);
    if (policy_.refusal != 0 && bytes > policy_.allowance - reserved_) {
      refused_ = true;
      return policy_.refusal;
    }
    reserved_ += bytes;
    return 0;
  }
  void append(std::string_view bytes) noexcept override {
    FUZZ_CHECK(!bytes.empty());
    FUZZ_CHECK(!refused_);
    FUZZ_CHECK(appended_ + bytes.size() <= reserved_);
    appended_ += bytes.size();
    body.append(bytes);
  }
  bool refused() const noexcept { return refused_; }

  std::string body;
  std::vector<std::uint64_t> reservations;

 private:
  SinkPolicy policy_;
  std::uint64_t reserved_ = 0;
  std::uint64_t appended_ = 0;
  bool refused_ = false;
};

struct Outcome {
  ChunkedDecoder::Status status = ChunkedDecoder::Status::kNeedMore;
  std::size_t consumed = 0;
  int error_status = 0;
  std::string body;
  std::vector<std::uint64_t> reservations;
  bool refused = false;  // the sink refused a reservation

  bool operator==(const Outcome&) const = default;
};

void check_step(const ChunkedDecoder::Result& result, std::size_t given, const CheckingSink& sink,
                const Limits& limits, const SinkPolicy& policy) {
  FUZZ_CHECK(result.consumed <= given);
  FUZZ_CHECK(sink.body.size() <= limits.max_body);
  switch (result.status) {
    case ChunkedDecoder::Status::kNeedMore:
      FUZZ_CHECK(result.consumed == given);
      FUZZ_CHECK(result.error_status == 0);
      FUZZ_CHECK(!sink.refused());
      break;
    case ChunkedDecoder::Status::kDone:
      FUZZ_CHECK(result.error_status == 0);
      FUZZ_CHECK(!sink.refused());
      break;
    case ChunkedDecoder::Status::kError:
      if (sink.refused()) {
        FUZZ_CHECK(result.error_status == policy.refusal);
      } else {
        FUZZ_CHECK(result.error_status == 400 || result.error_status == 413 || result.error_status == 431);
      }
      break;
  }
}

// Feeds `input` cut before each position for which cut_here(position) is true, the way a connection hands
// over whatever each read brought.
template <typename CutHere>
Outcome decode_in_pieces(ChunkedDecoder& decoder, std::string_view input, const Limits& limits,
                         const SinkPolicy& policy, CutHere cut_here) {
  Outcome outcome;
  CheckingSink sink(policy);
  std::size_t start = 0;
  while (start < input.size()) {
    std::size_t end = start + 1;
    while (end < input.size() && !cut_here(end)) ++end;
    const std::string_view piece = input.substr(start, end - start);
    const ChunkedDecoder::Result result = decoder.feed(piece, sink);
    check_step(result, piece.size(), sink, limits, policy);
    outcome.status = result.status;
    outcome.consumed += result.consumed;
    outcome.error_status = result.error_status;
    if (result.status != ChunkedDecoder::Status::kNeedMore) break;
    start = end;
  }
  outcome.body = sink.body;
  outcome.reservations = sink.reservations;
  outcome.refused = sink.refused();
  return outcome;
}

void check_finished_stays_finished(ChunkedDecoder& decoder, const Outcome& outcome, std::string_view input) {
  if (outcome.status == ChunkedDecoder::Status::kNeedMore) return;
  CheckingSink untouched(SinkPolicy{0, 507});  // would refuse anything, and checks nothing is appended
  const ChunkedDecoder::Result again = decoder.feed(input, untouched);
  FUZZ_CHECK(again.status == outcome.status);
  FUZZ_CHECK(again.consumed == 0);
  FUZZ_CHECK(again.error_status == outcome.error_status);
  FUZZ_CHECK(untouched.reservations.empty() && untouched.body.empty());
}

void check_with_limits(std::string_view input, const Limits& limits, const SinkPolicy& policy,
                       std::uint64_t cut_seed) {
  ChunkedDecoder decoder(limits.max_body, limits.max_line, limits.max_trailer);

  const Outcome whole = decode_in_pieces(decoder, input, limits, policy, [](std::size_t) { return false; });
  check_finished_stays_finished(decoder, whole, input);
  if (whole.refused) FUZZ_CHECK(whole.status == ChunkedDecoder::Status::kError && !whole.reservations.empty());

  decoder.reset();
  const Outcome bytewise = decode_in_pieces(decoder, input, limits, policy, [](std::size_t) { return true; });
  FUZZ_CHECK(bytewise == whole);

  // Cuts where the input's own bytes say, so that mutations move them around.
  decoder.reset();
  const Outcome pieces = decode_in_pieces(decoder, input, limits, policy, [&](std::size_t position) {
    const auto byte = static_cast<unsigned char>(input[position - 1]);
    return ((byte ^ cut_seed ^ position) & 7u) == 0;
  });
  FUZZ_CHECK(pieces == whole);
  check_finished_stays_finished(decoder, pieces, input);

  // An empty read changes nothing.
  decoder.reset();
  CheckingSink sink(policy);
  const ChunkedDecoder::Result empty = decoder.feed({}, sink);
  FUZZ_CHECK(empty.status == ChunkedDecoder::Status::kNeedMore && empty.consumed == 0);
  FUZZ_CHECK(sink.body.empty() && sink.reservations.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::uint64_t cut_seed = size > 0 ? data[size / 2] : 0;
  // The sink refuses now and then, at an allowance the input chooses, with one of the statuses a real sink
  // uses (413 from a per-request budget, 503 or 507 from the process's).
  static constexpr int kRefusals[] = {0, 413, 503, 507};
  const std::uint8_t last = size > 0 ? data[size - 1] : 0;
  const SinkPolicy policy{static_cast<std::uint64_t>(last >> 2) * (size / 8 + 1), kRefusals[last & 3u]};

  check_with_limits(input, Limits{1u << 20, 4096, 8192}, policy, cut_seed);
  check_with_limits(input, Limits{16, 8, 24}, policy, cut_seed);
  check_with_limits(input, Limits{0, 1, 0}, policy, cut_seed);
  // Limits at the input's size put every limit on a boundary the input can reach.
  check_with_limits(input, Limits{size / 4, size / 8 + 1, size / 3}, policy, cut_seed);
  check_with_limits(input, Limits{1u << 20, 4096, 8192}, SinkPolicy{}, cut_seed);
  return 0;
}
