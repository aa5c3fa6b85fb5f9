// Connection: parsing requests, reading bodies, calling the handler and queueing responses.
#include <algorithm>
#include <memory>
#include <new>

#include "http/connection.h"
#include "http/pending_slot.h"

namespace http {

// Charges every announced chunk before its bytes are read: the handler may refuse the growth (a store that
// cannot take it: 507), and the in-flight body budget must agree to hold it (503).
class Connection::Sink final : public BodySink {
 public:
  explicit Sink(Connection& connection) noexcept : c_(connection) {}

  int reserve(std::uint64_t bytes) noexcept override {
    const std::uint64_t total = c_.body_.size() + bytes;
    try {
      if (!c_.handler_.admit_body(c_.head_, total, c_.refusal_)) {
        c_.refusal_pending_ = true;
        return c_.refusal_.status;
      }
    } catch (...) {
      return 503;
    }
    if (!c_.body_.reserve_more(static_cast<std::size_t>(bytes), c_.config_.limits.max_body_bytes)) return 503;
    return 0;
  }
  void append(std::string_view bytes) noexcept override {
    c_.body_.append(bytes);
    c_.body_received_ += bytes.size();
  }

 private:
  Connection& c_;
};

class Connection::DeferrerImpl final : public Deferrer {
 public:
  explicit DeferrerImpl(Connection& connection) noexcept : c_(connection) {}

  PendingResponse defer() override {
    auto slot = std::make_shared<detail::PendingSlot>();
    slot->connection = &c_;
    slot->method = c_.head_.method;
    slot->method_token.assign(c_.head_.method_token);
    slot->target.assign(c_.head_.target.substr(0, kRecordedTargetBytes));
    slot->tag = c_.tag_;
    slot->request_id = c_.request_id_;
    slot->started = c_.request_started_;
    slot->version_minor = c_.head_.version_minor;
    slot->head_request = c_.head_.method == Method::kHead;
    slot->keep_alive = c_.head_.keep_alive;
    slot_ = slot;
    return PendingResponse(std::move(slot));
  }

  std::shared_ptr<detail::PendingSlot> slot_;

 private:
  Connection& c_;
};

void PendingResponse::complete(const Response& response) noexcept {
  if (slot_ && slot_->connection != nullptr) slot_->connection->complete_pending(*slot_, response);
}

bool PendingResponse::connection_alive() const noexcept { return slot_ && slot_->connection != nullptr; }

std::string_view Connection::unread() const noexcept { return input_.empty() ? fresh_ : input_.readable(); }

void Connection::consume(std::size_t n) noexcept {
  if (input_.empty()) {
    fresh_.remove_prefix(n);
  } else {
    input_.consume(n);
  }
}

void Connection::discard_input() noexcept {
  input_.consume(input_.size());
  fresh_ = {};
}

void Connection::process(Clock::time_point now) {
  if (closing_) {
    discard_input();
    return;
  }
  // Bytes already waiting come first: new ones join them so a head split across reads stays contiguous.
  if (!input_.empty() && !fresh_.empty()) {
    if (!input_.append(fresh_)) {
      refuse(503, Refusal::kBufferBudget, state_ != State::kHead);
      return;
    }
    fresh_ = {};
  }
  while (!closing_ && output_has_room()) {
    bool progressed = false;
    if (state_ == State::kHead) {
      const std::string_view in = unread();
      if (in.empty()) break;
      const ParseResult result = parser_.parse(in, head_);
      if (!request_clock_running_ && parser_.in_request()) {
        request_started_ = now;
        request_clock_running_ = true;
        any_request_ = true;
      }
      if (result.status == ParseStatus::kIncomplete) break;
      if (result.status == ParseStatus::kError) {
        refuse(result.error_status, Refusal::kMalformed, result.request_line_parsed);
        break;
      }
      progressed = on_head(result.consumed, now);
    } else if (state_ == State::kBody || state_ == State::kChunkedBody) {
      progressed = read_body();
    }
    if (!progressed) break;
  }
  if (peer_closed_ && !closing_ && state_ != State::kAwaitingHandler && output_has_room()) {
    // Nothing complete is left and nothing more will come: a partial request is abandoned unanswered.
    discard_input();
    body_.clear();
    closing_ = true;
    end_request();
  }
}

bool Connection::on_head(std::size_t head_bytes, Clock::time_point now) {
  request_active_ = true;
  if (config_.request_ids != nullptr) request_id_.assign(head_, *config_.request_ids);
  tag_ = handler_.on_request_begin(head_);
  if (head_.method == Method::kUnknown) {
    refuse(501, Refusal::kMalformed, true);
    return false;
  }
  if (head_.has_content_length && head_.content_length > config_.limits.max_body_bytes) {
    refuse(413, Refusal::kBodyTooLarge, true);
    return false;
  }
  if (head_.has_body()) return begin_body(head_bytes, now);
  // RFC 9112 6.3: without Content-Length or Transfer-Encoding a request has no body (a PUT stores an empty
  // value). The head's views stay valid after consume(): the bytes are not overwritten until new ones come.
  consume(head_bytes);
  dispatch();
  return true;
}

bool Connection::begin_body(std::size_t head_bytes, Clock::time_point now) {
  const std::uint64_t announced = head_.has_content_length ? head_.content_length : 0;
  if (!handler_.admit_body(head_, announced, refusal_)) {
    // Refused before the body is read: its bytes are on the wire and cannot be trusted as a next request.
    refusal_.close = true;
    refused_ = true;
    finish(refusal_, Refusal::kNone, true);
    discard_input();
    return false;
  }
  // The head's views point into the input, which moves while the body arrives: keep a copy of the head
  // bytes and re-point the views at it. Only requests with a body pay for this.
  head_copy_.consume(head_copy_.size());
  if (!head_copy_.append(unread().substr(0, head_bytes))) {
    refuse(503, Refusal::kBufferBudget, true);
    return false;
  }
  consume(head_bytes);
  [[maybe_unused]] const ParseResult again = parse_request_head(head_copy_.readable(), config_.limits.parser, head_);
  body_received_ = 0;
  if (head_.has_content_length) {
    // The whole announced length is charged now, before a byte of it is read.
    const auto length = static_cast<std::size_t>(head_.content_length);
    if (!body_.reserve_more(length, length)) {
      refuse(503, Refusal::kBodyBudget, true);
      return false;
    }
    body_remaining_ = head_.content_length;
    state_ = State::kBody;
  } else {
    if (chunked_) {
      chunked_->reset();
    } else {
      chunked_.emplace(config_.limits.max_body_bytes);
    }
    state_ = State::kChunkedBody;
  }
  if (head_.expect_continue && head_.version_minor >= 1 && !output_.append(kContinueResponse)) {
    refuse(503, Refusal::kBufferBudget, true);
    return false;
  }
  body_started_ = last_body_progress_ = now;
  return true;
}

bool Connection::read_body() {
  const std::string_view in = unread();
  if (state_ == State::kBody) {
    if (body_remaining_ > 0) {
      if (in.empty()) return false;
      const auto take = static_cast<std::size_t>(std::min<std::uint64_t>(in.size(), body_remaining_));
      body_.append(in.substr(0, take));
      consume(take);
      body_remaining_ -= take;
      body_received_ += take;
      if (body_remaining_ > 0) return false;
    }
    dispatch();
    return true;
  }
  if (in.empty()) return false;
  Sink sink(*this);
  const ChunkedDecoder::Result result = chunked_->feed(in, sink);
  consume(result.consumed);
  if (result.status == ChunkedDecoder::Status::kError) {
    if (refusal_pending_) {
      refusal_pending_ = false;
      refusal_.close = true;
      refused_ = true;
      finish(refusal_, Refusal::kNone, true);
      discard_input();
    } else {
      const int status = result.error_status;
      refuse(status, status == 503 ? Refusal::kBodyBudget : status == 413 ? Refusal::kBodyTooLarge : Refusal::kMalformed,
             true);
    }
    return false;
  }
  if (result.status == ChunkedDecoder::Status::kNeedMore) return false;
  dispatch();
  return true;
}

void Connection::dispatch() {
  Response response;
  DeferrerImpl deferrer(*this);
  try {
    handler_.handle(head_, body_, response, deferrer);
  } catch (...) {
    // A handle that failed after deferring must not be answered a second time later.
    if (deferrer.slot_) deferrer.slot_->connection = nullptr;
    throw;  // answered by advance(): 503 when out of memory, else 500
  }
  body_.clear();
  if (deferrer.slot_) {
    if (deferrer.slot_->connection == nullptr) return;  // completed inside handle(): already answered
    pending_ = std::move(deferrer.slot_);
    state_ = State::kAwaitingHandler;
    return;
  }
  finish(response, Refusal::kNone, true);
}

void Connection::refuse(int status, Refusal reason, bool head_known) noexcept {
  refused_ = true;
  Response response = Response::error(status);
  response.close = true;
  if (status == 503) response.retry_after_seconds = 1;
  finish(response, reason, head_known);
  discard_input();
}

void Connection::finish(const Response& response, Refusal reason, bool head_known) noexcept {
  const bool close = response.close || draining_ || !head_known || !head_.keep_alive;
  SerializeOptions options;
  options.head_request = head_known && head_.method == Method::kHead;
  options.close = close;
  options.keep_alive_header = !close && head_known && head_.version_minor == 0;
  options.request_id_name = request_id_.field_name();
  options.request_id_value = request_id_.field_value();
  if (!serialize_response(response, options, dates_.current(), output_)) abort_ = true;  // not even the answer fits

  report(current_record(response.status, reason, head_known));
  if (close || abort_) closing_ = true;  // a connection that will be reset handles nothing more
  reset_for_next_request();
}

void Connection::complete_pending(detail::PendingSlot& slot, const Response& response) noexcept {
  if (slot.connection != this) return;
  slot.connection = nullptr;
  const bool close = response.close || draining_ || !slot.keep_alive;
  SerializeOptions options;
  options.head_request = slot.head_request;
  options.close = close;
  options.keep_alive_header = !close && slot.version_minor == 0;
  options.request_id_name = slot.request_id.field_name();
  options.request_id_value = slot.request_id.field_value();
  if (!serialize_response(response, options, dates_.current(), output_)) abort_ = true;

  ResponseRecord record;
  record.status = response.status;
  record.method = slot.method;
  record.method_token = slot.method_token;
  record.target = slot.target;
  record.tag = slot.tag;
  if (!slot.request_id.empty()) record.request_id = &slot.request_id;
  record.request_line_parsed = true;
  record.started = slot.started;
  report(record);
  if (close || abort_) closing_ = true;  // a connection that will be reset handles nothing more
  const bool was_waiting = state_ == State::kAwaitingHandler;
  pending_.reset();  // the caller's PendingResponse still holds the slot
  reset_for_next_request();
  if (refuse_after_answer_) {
    // Input that arrived behind the answer could not be held: refuse it now, in its turn. When the answer
    // closes anyway, the lost bytes still call for the half-close and drain rather than a reset.
    refuse_after_answer_ = false;
    if (closing_) {
      refused_ = true;
    } else {
      refuse(503, Refusal::kBufferBudget, false);
    }
  }
  if (was_waiting && wake_) wake_();
}

ResponseRecord Connection::current_record(int status, Refusal reason, bool head_known) const noexcept {
  ResponseRecord record;
  record.status = status;
  record.refusal = reason;
  record.started = request_started_;
  record.tag = request_active_ ? tag_ : kNoTag;
  if (!request_id_.empty()) record.request_id = &request_id_;
  if (head_known) {
    record.method = head_.method;
    record.method_token = head_.method_token;
    record.target = head_.target;
    record.path = head_.path;
    record.request_line_parsed = true;
  }
  return record;
}

void Connection::report(const ResponseRecord& record) noexcept {
  try {
    handler_.on_response(record);
  } catch (...) {
    // Metrics and logs must not take the connection down with them.
  }
  end_request();
}

void Connection::end_request() noexcept {
  if (!request_active_) return;
  request_active_ = false;
  handler_.on_request_end();
}

void Connection::reset_for_next_request() noexcept {
  state_ = State::kHead;
  parser_.reset();
  // A fresh builder rather than clear(): a handler that moved the body out (into the store) took the
  // builder's account with it, and the next body must be charged to the in-flight budget again.
  body_ = base::ByteBuilder(config_.accounts.bodies, config_.accounts.value_files);
  body_remaining_ = 0;
  body_received_ = 0;
  head_copy_.consume(head_copy_.size());
  refusal_pending_ = false;
  request_clock_running_ = false;
  tag_ = kNoTag;
  request_id_.clear();
}

}  // namespace http
