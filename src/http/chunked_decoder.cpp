#include "http/chunked_decoder.h"

#include <algorithm>

#include "base/text.h"

namespace http {
namespace {

using base::hex_value;
using base::is_ows;
using base::is_token_char;

// 16 hex digits fill 64 bits, so capping the digit count also rules out overflow.
constexpr unsigned kMaxSizeDigits = 16;

// VCHAR, obs-text, SP and HTAB: what a field value may hold, and a quoted-pair may escape.
constexpr bool is_field_value_char(char c) noexcept {
  const auto u = static_cast<unsigned char>(c);
  return (u >= 0x20 && u != 0x7f) || u == '\t';
}

// qdtext (RFC 9110 5.6.4): a field value character other than '"' and '\\'.
constexpr bool is_qdtext(char c) noexcept { return is_field_value_char(c) && c != '"' && c != '\\'; }

}  // namespace

ChunkedDecoder::ChunkedDecoder(std::size_t max_body_bytes, std::size_t max_line_bytes,
                               std::size_t max_trailer_bytes) noexcept
    : max_body_bytes_(max_body_bytes), max_line_bytes_(max_line_bytes), max_trailer_bytes_(max_trailer_bytes) {}

void ChunkedDecoder::reset() noexcept {
  state_ = State::kSize;
  chunk_remaining_ = 0;
  line_bytes_ = 0;
  trailer_bytes_ = 0;
  body_bytes_ = 0;
  size_digits_ = 0;
  error_status_ = 0;
}

ChunkedDecoder::Result ChunkedDecoder::fail(int status, std::size_t consumed) noexcept {
  state_ = State::kError;
  error_status_ = status;
  return Result{Status::kError, consumed, status};
}

bool ChunkedDecoder::count_size_line_byte() noexcept { return ++line_bytes_ <= max_line_bytes_; }

bool ChunkedDecoder::count_trailer_byte() noexcept { return ++trailer_bytes_ <= max_trailer_bytes_; }

// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ) (RFC 9112 7.1.1), one byte at a
// time: whitespace may only lead to a ';' or an '=', and the line may only end right after a size, a name or
// a value. CR moves to kSizeLf.
bool ChunkedDecoder::size_line_byte(char c) noexcept {
  const bool ows = is_ows(c);
  const bool token = is_token_char(c);
  switch (state_) {
    case State::kSizeBws:
    case State::kExtValueBws:
      if (c == ';') {
        state_ = State::kExtNameStart;
        return true;
      }
      return ows;
    case State::kExtNameStart:
      if (token) state_ = State::kExtName;
      return token || ows;
    case State::kExtName:
      if (token) return true;
      if (c == '\r') {
        state_ = State::kSizeLf;
        return true;
      }
      [[fallthrough]];
    case State::kExtNameBws:
      if (c == '=') {
        state_ = State::kExtValueStart;
      } else if (c == ';') {
        state_ = State::kExtNameStart;
      } else if (ows) {
        state_ = State::kExtNameBws;
      } else {
        return false;
      }
      return true;
    case State::kExtValueStart:
      if (c == '"') {
        state_ = State::kExtQuoted;
      } else if (token) {
        state_ = State::kExtToken;
      } else {
        return ows;
      }
      return true;
    case State::kExtToken:
      if (token) return true;
      [[fallthrough]];
    case State::kExtValueEnd:
      if (c == ';') {
        state_ = State::kExtNameStart;
      } else if (ows) {
        state_ = State::kExtValueBws;
      } else if (c == '\r') {
        state_ = State::kSizeLf;
      } else {
        return false;
      }
      return true;
    case State::kExtQuoted:
      if (c == '"') {
        state_ = State::kExtValueEnd;
      } else if (c == '\\') {
        state_ = State::kExtQuotedPair;
      } else {
        return is_qdtext(c);
      }
      return true;
    case State::kExtQuotedPair:
      state_ = State::kExtQuoted;
      return is_field_value_char(c);
    default:
      return false;
  }
}

ChunkedDecoder::Result ChunkedDecoder::feed(std::string_view input, BodySink& sink) noexcept {
  if (state_ == State::kDone) return Result{Status::kDone, 0, 0};
  if (state_ == State::kError) return Result{Status::kError, 0, error_status_};

  const char* const begin = input.data();
  const char* const end = begin + input.size();
  const char* p = begin;
  const auto consumed = [&]() noexcept { return static_cast<std::size_t>(p - begin); };

  while (p < end) {
    const char c = *p;
    switch (state_) {
      case State::kSize: {
        const int digit = hex_value(c);
        if (digit >= 0) {
          if (size_digits_ == kMaxSizeDigits) return fail(400, consumed());
          if (!count_size_line_byte()) return fail(400, consumed());
          chunk_remaining_ = chunk_remaining_ * 16 + static_cast<std::uint64_t>(digit);
          ++size_digits_;
          break;
        }
        if (size_digits_ == 0) return fail(400, consumed());
        // The size is known now: refuse before any of its data is read. body_bytes_ never exceeds the limit.
        if (chunk_remaining_ > max_body_bytes_ - body_bytes_) return fail(413, consumed());
        if (c == '\r') {
          state_ = State::kSizeLf;
          break;
        }
        if (c == ';') {
          state_ = State::kExtNameStart;
        } else if (is_ows(c)) {
          state_ = State::kSizeBws;
        } else {
          return fail(400, consumed());
        }
        if (!count_size_line_byte()) return fail(400, consumed());
        break;
      }
      case State::kSizeBws:
      case State::kExtNameStart:
      case State::kExtName:
      case State::kExtNameBws:
      case State::kExtValueStart:
      case State::kExtToken:
      case State::kExtQuoted:
      case State::kExtQuotedPair:
      case State::kExtValueEnd:
      case State::kExtValueBws:
        // Extensions are ignored, so they are only checked and bounded.
        if (!size_line_byte(c)) return fail(400, consumed());
        if (state_ != State::kSizeLf && !count_size_line_byte()) return fail(400, consumed());
        break;
      case State::kSizeLf:
        if (c != '\n') return fail(400, consumed());
        if (chunk_remaining_ > 0) {
          const int refusal = sink.reserve(chunk_remaining_);
          if (refusal != 0) return fail(refusal, consumed());
        }
        state_ = chunk_remaining_ == 0 ? State::kTrailerLineStart : State::kData;
        line_bytes_ = 0;
        size_digits_ = 0;
        break;
      case State::kData: {
        const std::size_t available = static_cast<std::size_t>(end - p);
        const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_remaining_, available));
        sink.append(std::string_view(p, take));
        body_bytes_ += take;
        chunk_remaining_ -= take;
        p += take;
        if (chunk_remaining_ == 0) state_ = State::kDataCr;
        continue;  // p already advanced
      }
      case State::kDataCr:
        if (c != '\r') return fail(400, consumed());
        state_ = State::kDataLf;
        break;
      case State::kDataLf:
        if (c != '\n') return fail(400, consumed());
        state_ = State::kSize;
        break;
      case State::kTrailerLineStart:
        if (c == '\r') {
          state_ = State::kFinalLf;
          break;
        }
        // A trailer field line starts with a field name; whitespace here would be obs-fold.
        if (!is_token_char(c)) return fail(400, consumed());
        if (!count_trailer_byte()) return fail(431, consumed());
        state_ = State::kTrailerName;
        break;
      case State::kTrailerName:
        if (c == ':') {
          state_ = State::kTrailerValue;
        } else if (!is_token_char(c)) {
          return fail(400, consumed());
        }
        if (!count_trailer_byte()) return fail(431, consumed());
        break;
      case State::kTrailerValue:
        if (c == '\r') {
          state_ = State::kTrailerLf;
        } else if (!is_field_value_char(c)) {
          return fail(400, consumed());
        }
        if (!count_trailer_byte()) return fail(431, consumed());
        break;
      case State::kTrailerLf:
        if (c != '\n') return fail(400, consumed());
        if (!count_trailer_byte()) return fail(431, consumed());
        state_ = State::kTrailerLineStart;
        break;
      case State::kFinalLf:
        if (c != '\n') return fail(400, consumed());
        state_ = State::kDone;
        ++p;
        return Result{Status::kDone, consumed(), 0};
      case State::kDone:
      case State::kError:
        // Handled before the loop; the loop returns as soon as either state is entered.
        return Result{Status::kError, consumed(), error_status_};
    }
    ++p;
  }
  return Result{Status::kNeedMore, consumed(), 0};
}

}  // namespace http
