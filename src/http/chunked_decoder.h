#pragma once
// Incremental decoder for the chunked transfer coding (RFC 9112 7.1).
//
// feed() takes whatever bytes have arrived, hands the chunk data to a BodySink, and reports how many input
// bytes it consumed and whether the message ended (last chunk and trailer section seen), needs more input,
// or is malformed. State survives between calls, so input may be split at any byte. Each chunk is announced
// to the sink (sink.reserve(size)) once its size line is complete and before any of its data is read, so
// the sink can refuse a body before holding its bytes. Chunk extensions are checked against their grammar,
// then ignored; trailer fields are read and discarded (never merged into the head).
//
// Refusals: a chunk-size that is empty, not hex, or over 16 hex digits -> 400; a chunk extension that is not
// *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] ) -> 400 (a bare ";", ";=x", ";a=",
// ";a b", an unterminated quote, a CTL); a missing CRLF after chunk data -> 400; bare CR/LF -> 400; a
// chunk-size line (with extensions) over max_line_bytes -> 400; a body that would grow beyond max_body_bytes
// -> 413 (detected from the chunk-size, before reserve() and before the data is read); a chunk the sink
// refuses -> the sink's status; a trailer section over max_trailer_bytes -> 431.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "http/body_sink.h"

namespace http {

class ChunkedDecoder {
 public:
  enum class Status { kNeedMore, kDone, kError };
  struct Result {
    Status status = Status::kNeedMore;
    std::size_t consumed = 0;  // input bytes used; on kDone the bytes after them belong to the next request
    int error_status = 0;      // kError only
  };

  explicit ChunkedDecoder(std::size_t max_body_bytes, std::size_t max_line_bytes = 4096,
                          std::size_t max_trailer_bytes = 8192) noexcept;

  Result feed(std::string_view input, BodySink& sink) noexcept;
  void reset() noexcept;  // ready for the next message, limits kept

 private:
  enum class State {
    kSize, kSizeBws, kExtNameStart, kExtName, kExtNameBws, kExtValueStart, kExtToken, kExtQuoted,
    kExtQuotedPair, kExtValueEnd, kExtValueBws, kSizeLf, kData, kDataCr, kDataLf, kTrailerLineStart,
    kTrailerName, kTrailerValue, kTrailerLf, kFinalLf, kDone, kError,
  };

  Result fail(int status, std::size_t consumed) noexcept;
  bool size_line_byte(char c) noexcept;  // one byte after the chunk-size; false when it breaks the line
  bool count_size_line_byte() noexcept;  // false once the chunk-size line is over max_line_bytes
  bool count_trailer_byte() noexcept;    // false once the trailer section is over max_trailer_bytes

  std::size_t max_body_bytes_;
  std::size_t max_line_bytes_;
  std::size_t max_trailer_bytes_;
  State state_ = State::kSize;
  std::uint64_t chunk_remaining_ = 0;
  std::size_t line_bytes_ = 0;
  std::size_t trailer_bytes_ = 0;
  std::size_t body_bytes_ = 0;
  unsigned size_digits_ = 0;
  int error_status_ = 0;
};

}  // namespace http
