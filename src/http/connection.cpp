#include "http/connection.h"

#include <algorithm>
#include <ctime>

namespace http {

namespace {
// Reserving the announced length up front saves reallocations, but only up to a bound: a client may
// announce a large body and never send it.
constexpr std::size_t kMaxBodyReserve = 1u << 20;

// The decoded body of a chunked request, appended to a std::string as it arrives.
class StringBodySink final : public BodySink {
 public:
  explicit StringBodySink(std::string& body) noexcept : body_(body) {}
  int reserve(std::uint64_t) noexcept override { return 0; }  // the decoder has checked max_body_bytes
  void append(std::string_view bytes) noexcept override { body_.append(bytes); }

 private:
  std::string& body_;
};
}  // namespace

Connection::Connection(const ConnectionLimits& limits, Handler& handler, DateCache& dates) noexcept
    : limits_(limits), handler_(handler), dates_(dates) {}

Connection::~Connection() {
  if (request_active_) handler_.on_request_end();
}

Connection::Phase Connection::phase() const noexcept {
  if (closing_) return Phase::kClosing;
  if (state_ != State::kHead) return Phase::kBody;
  return input_.empty() ? Phase::kIdle : Phase::kHead;
}

void Connection::process(Clock::time_point now) {
  if (closing_) {
    input_.consume(input_.size());
    return;
  }
  while (!closing_ && output_.size() < limits_.output_high_watermark && step(now)) {
  }
  if (peer_closed_ && !closing_ && output_.size() < limits_.output_high_watermark) {
    // Nothing complete is left and nothing more will come: a partial request is abandoned unanswered.
    closing_ = true;
    input_.consume(input_.size());
    if (request_active_) {
      request_active_ = false;
      handler_.on_request_end();
    }
  }
}

void Connection::on_peer_closed(Clock::time_point now) {
  peer_closed_ = true;
  process(now);
}

void Connection::on_timeout() {
  switch (phase()) {
    case Phase::kHead:
      refuse(408, false);
      break;
    case Phase::kBody:
      refuse(408, true);
      break;
    case Phase::kIdle:
      closing_ = true;
      break;
    case Phase::kClosing:
      break;
  }
}

void Connection::begin_drain() {
  draining_ = true;
  if (phase() == Phase::kIdle) closing_ = true;
}

bool Connection::step(Clock::time_point now) {
  switch (state_) {
    case State::kHead: {
      if (input_.empty()) return false;
      if (!request_clock_running_) {
        request_start_ = std::max(now, request_start_);
        request_clock_running_ = true;
      }
      // The parser resumes where the previous read left off, so a head trickled in costs O(its length).
      const ParseResult result = head_parser_.parse(input_.readable(), head_);
      if (result.status == ParseStatus::kError) {
        refuse(result.error_status, false);
        return false;
      }
      if (result.status == ParseStatus::kIncomplete) return false;
      return on_head_parsed(result.consumed);
    }
    case State::kBody: {
      if (input_.empty()) return false;
      const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(input_.size(), body_remaining_));
      body_.append(input_.readable().substr(0, take));
      input_.consume(take);
      body_remaining_ -= take;
      if (body_remaining_ > 0) return false;
      dispatch();
      return true;
    }
    case State::kChunkedBody: {
      if (input_.empty()) return false;
      StringBodySink sink(body_);
      const ChunkedDecoder::Result result = chunked_->feed(input_.readable(), sink);
      input_.consume(result.consumed);
      if (result.status == ChunkedDecoder::Status::kError) {
        refuse(result.error_status, true);
        return false;
      }
      if (result.status == ChunkedDecoder::Status::kNeedMore) return false;
      dispatch();
      return true;
    }
  }
  return false;
}

bool Connection::on_head_parsed(std::size_t head_bytes) {
  request_active_ = true;
  head_bytes_in_input_ = head_bytes;
  handler_.on_request_begin(head_);

  if (head_.method == Method::kUnknown) {
    refuse(501, true);
    return false;
  }
  const bool announces_body = head_.has_content_length || head_.chunked;
  if (!announces_body && (head_.method == Method::kPut || head_.method == Method::kPost ||
                          head_.method == Method::kPatch)) {
    refuse(411, true);
    return false;
  }
  if (head_.has_content_length && head_.content_length > limits_.max_body_bytes) {
    refuse(413, true);
    return false;
  }

  Response early;
  if (!handler_.precheck(head_, early)) {
    // Refusing before the body is read leaves its bytes on the wire: they cannot be trusted as a next request.
    if (head_.has_body()) {
      early.close = true;
      refused_ = true;
    }
    finish_request(early, true);
    if (closing_) input_.consume(input_.size());
    return !closing_;
  }

  if (!head_.has_body()) {
    dispatch();
    return true;
  }
  if (head_.expect_continue && head_.version_minor >= 1) output_.append(kContinueResponse);
  keep_head_bytes(head_bytes);
  if (head_.chunked) {
    if (chunked_) {
      chunked_->reset();
    } else {
      chunked_.emplace(limits_.max_body_bytes);
    }
    state_ = State::kChunkedBody;
  } else {
    body_remaining_ = head_.content_length;
    body_.reserve(static_cast<std::size_t>(std::min<std::uint64_t>(head_.content_length, kMaxBodyReserve)));
    state_ = State::kBody;
  }
  return true;
}

// The head's views point into input_, which moves while the body arrives: keep a private copy of the head
// bytes and re-point the views at it. Only requests with a body pay for this.
void Connection::keep_head_bytes(std::size_t head_bytes) {
  head_storage_.assign(input_.readable().substr(0, head_bytes));
  input_.consume(head_bytes);
  head_bytes_in_input_ = 0;
  [[maybe_unused]] const ParseResult again = parse_request_head(head_storage_, limits_.parser, head_);
}

void Connection::dispatch() {
  Response response;
  handler_.handle(head_, body_, response);
  finish_request(response, true);
}

void Connection::refuse(int status, bool head_known) {
  refused_ = true;
  Response response = Response::error(status);
  response.close = true;
  finish_request(response, head_known);
  input_.consume(input_.size());
}

void Connection::finish_request(const Response& response, bool head_known) {
  const bool close = response.close || draining_ || !head_known || !head_.keep_alive;
  SerializeOptions options;
  options.head_request = head_known && head_.method == Method::kHead;
  options.close = close;
  options.keep_alive_header = !close && head_known && head_.version_minor == 0;
  serialize_response(response, options, dates_.get(std::time(nullptr)), output_);

  const Clock::time_point finished = Clock::now();
  handler_.on_response(head_known ? &head_ : nullptr, response.status,
                       request_clock_running_ ? finished - request_start_ : Clock::duration::zero());
  if (request_active_) {
    request_active_ = false;
    handler_.on_request_end();
  }
  if (close) closing_ = true;
  reset_for_next_request(finished);
}

void Connection::reset_for_next_request(Clock::time_point finished) {
  if (head_bytes_in_input_ > 0) {
    input_.consume(std::min(head_bytes_in_input_, input_.size()));
    head_bytes_in_input_ = 0;
  }
  body_.clear();
  body_remaining_ = 0;
  head_parser_.reset();
  state_ = State::kHead;
  // A pipelined request already waiting was "received" no earlier than this response finished.
  request_clock_running_ = false;
  request_start_ = finished;
}

}  // namespace http
