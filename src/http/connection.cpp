// Connection: socket events, deadlines and the directive. Request handling is in connection_requests.cpp.
#include "http/connection.h"

#include <algorithm>
#include <new>

#include "http/pending_slot.h"

namespace http {

namespace {
// A 503 that needs no allocation: queued when serving a request ran out of memory (without its body for
// HEAD).
constexpr std::string_view kOutOfMemoryBody = "{\"error\": \"service unavailable\"}";
constexpr std::string_view kOutOfMemoryResponse =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 32\r\nContent-Type: application/json\r\n"
    "Retry-After: 1\r\nConnection: close\r\n\r\n{\"error\": \"service unavailable\"}";
static_assert(kOutOfMemoryBody.size() == 32 && kOutOfMemoryResponse.ends_with(kOutOfMemoryBody));
}  // namespace

Connection::Connection(const ConnectionConfig& config, Handler& handler, const DateCache& dates,
                       Clock::time_point opened) noexcept
    : config_(config),
      handler_(handler),
      dates_(dates),
      input_(config.accounts.buffers),
      output_(config.accounts.buffers),
      parser_(config.limits.parser),
      head_copy_(config.accounts.buffers),
      body_(config.accounts.bodies, config.accounts.value_files),
      opened_(opened),
      last_activity_(opened) {}

Connection::~Connection() {
  if (pending_) pending_->connection = nullptr;
  if (request_active_) handler_.on_request_end();
}

void Connection::on_received(std::string_view bytes) noexcept { fresh_ = bytes; }

std::span<char> Connection::direct_input() noexcept {
  // Only a large remainder is worth a read of its own; small ones arrive with the next read anyway.
  constexpr std::uint64_t kDirectFrom = 4096;
  if (state_ != State::kBody || closing_ || !input_.empty() || !fresh_.empty() || body_remaining_ < kDirectFrom) {
    return {};
  }
  const std::span<char> spare = body_.spare();
  return spare.first(static_cast<std::size_t>(std::min<std::uint64_t>(spare.size(), body_remaining_)));
}

void Connection::on_received_direct(std::size_t n) noexcept {
  body_.commit(n);
  body_remaining_ -= n;
  body_received_ += n;
  direct_bytes_ += n;
}

void Connection::on_peer_closed() noexcept { peer_closed_ = true; }

void Connection::on_written(std::size_t n) noexcept {
  output_.consume(n);
  write_blocked_ = false;
  write_block_noted_ = false;
  wrote_ = true;
}

void Connection::on_write_blocked() noexcept { write_blocked_ = true; }

void Connection::begin_drain() noexcept { draining_ = true; }

void Connection::note_progress(Clock::time_point now) noexcept {
  if (!fresh_.empty() || direct_bytes_ > 0) {
    last_activity_ = now;
    if (state_ == State::kBody || state_ == State::kChunkedBody) last_body_progress_ = now;
  }
  if (wrote_) {
    last_activity_ = now;
    wrote_ = false;
  }
  if (write_blocked_ && !write_block_noted_) {
    write_blocked_since_ = now;
    write_block_noted_ = true;
  }
}

Connection::Directive Connection::advance(Clock::time_point now) noexcept {
  note_progress(now);
  if (state_ == State::kLingering) {
    fresh_ = {};  // a refused client's bytes are drained, never read
    direct_bytes_ = 0;
    return directive(now);
  }
  try {
    process(now);
  } catch (const std::bad_alloc&) {
    fail_request(503);
  } catch (...) {
    fail_request(500);  // a handler bug: this request fails, the loop and the other connections go on
  }
  direct_bytes_ = 0;
  if (!stash_unread_input()) {
    // Behind a pending answer the refusal must wait its turn, or it would overtake that answer.
    if (state_ == State::kAwaitingHandler) {
      refuse_after_answer_ = true;
    } else {
      refuse(503, Refusal::kBufferBudget, state_ != State::kHead);
    }
  }
  if (draining_ && state_ == State::kHead && !request_clock_running_ && input_.empty()) closing_ = true;
  expire_deadlines(now);
  return directive(now);
}

// Bytes of fresh_ that were not consumed are copied into the connection's own buffer before the owner
// reuses its read buffer. False when the buffer budget refuses them.
bool Connection::stash_unread_input() noexcept {
  const std::string_view rest = fresh_;
  fresh_ = {};
  if (rest.empty() || closing_) return true;
  return input_.append(rest);
}

// A request that failed in the middle (out of memory: 503 with a response that needs no allocation; an
// exception from the handler: 500) is answered and the connection closes: its framing state can no longer
// be trusted.
void Connection::fail_request(int status) noexcept {
  const bool head_request = request_active_ && head_.method == Method::kHead;
  if (pending_) {
    pending_->connection = nullptr;
    pending_.reset();
  }
  // A request is active only once its head has been parsed, and its views hold until advance() returns.
  if (request_active_) {
    report(current_record(status, status == 503 ? Refusal::kAllocationFailed : Refusal::kNone, true));
  }
  discard_input();
  body_.clear();
  bool queued = false;
  if (status == 503) {
    const std::string_view answer =
        head_request ? kOutOfMemoryResponse.substr(0, kOutOfMemoryResponse.size() - kOutOfMemoryBody.size())
                     : kOutOfMemoryResponse;
    queued = output_.append(answer);
  } else {
    SerializeOptions options;
    options.head_request = head_request;
    options.close = true;
    queued = serialize_response(Response::error(status), options, dates_.current(), output_);
  }
  if (!queued) abort_ = true;
  closing_ = true;
  refused_ = true;
  state_ = State::kHead;
}

bool Connection::output_has_room() const noexcept {
  return output_.owned_bytes() < config_.limits.output_high_watermark &&
         output_.shared_slices() < config_.limits.max_queued_slices;
}

void Connection::expire_deadlines(Clock::time_point now) noexcept {
  const ConnectionTimeouts& t = config_.timeouts;
  if (!output_.empty() && write_blocked_ && now - write_blocked_since_ >= t.write) {
    abort_ = true;
    closing_ = true;
    return;
  }
  switch (state_) {
    case State::kLingering:
    case State::kAwaitingHandler:
      return;
    case State::kHead:
      if (closing_) return;
      if (request_clock_running_) {
        if (now - request_started_ >= t.header) refuse(408, Refusal::kHeadTimeout, false);
      } else if (output_.empty()) {
        // A connection that never sent a byte gets the head deadline: opening connections and sending
        // nothing must not hold them for a whole idle period.
        const auto allowed = any_request_ ? t.idle : std::min(t.header, t.idle);
        if (now - last_activity_ >= allowed) closing_ = true;
      }
      return;
    case State::kBody:
    case State::kChunkedBody:
      if (now >= next_deadline()) refuse(408, Refusal::kBodyTimeout, true);
      return;
  }
}

Connection::Clock::time_point Connection::next_deadline() const noexcept {
  const ConnectionTimeouts& t = config_.timeouts;
  Clock::time_point deadline = Clock::time_point::max();
  if (!output_.empty() && write_blocked_ && write_block_noted_) deadline = write_blocked_since_ + t.write;
  switch (state_) {
    case State::kLingering:
      return std::min(deadline, linger_until_);
    case State::kAwaitingHandler:
      return deadline;
    case State::kHead:
      if (closing_) return deadline;
      if (request_clock_running_) return std::min(deadline, request_started_ + t.header);
      if (!output_.empty()) return deadline;
      return std::min(deadline, last_activity_ + (any_request_ ? t.idle : std::min(t.header, t.idle)));
    case State::kBody:
    case State::kChunkedBody: {
      Clock::time_point body_deadline = last_body_progress_ + t.body;
      if (t.body_min_rate != 0) {
        // mod_reqtimeout's MinRate: after the grace, every body_min_rate bytes buy one more second.
        const auto earned = std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(static_cast<double>(body_received_) / static_cast<double>(t.body_min_rate)));
        body_deadline = std::min(body_deadline, body_started_ + t.body + earned);
      }
      return std::min(deadline, body_deadline);
    }
  }
  return deadline;
}

Connection::Directive Connection::directive(Clock::time_point now) noexcept {
  Directive d;
  d.write = !output_.empty();
  if (abort_) {
    d.action = SocketAction::kAbort;
    d.write = false;
    return d;
  }
  if (state_ == State::kLingering) {
    if (peer_closed_ || now >= linger_until_) {
      d.action = SocketAction::kClose;
      return d;
    }
    d.read = true;
    d.deadline = linger_until_;
    return d;
  }
  if (closing_ && output_.empty()) {
    // A clean close (the client asked for it, or shutdown) has nothing unread to protect the last response
    // from; only a refusal needs the half-close and drain.
    if (refused_ && !peer_closed_) {
      state_ = State::kLingering;
      linger_until_ = now + config_.timeouts.linger;
      d.action = SocketAction::kShutdownWrite;
      d.read = true;
      d.deadline = linger_until_;
      return d;
    }
    d.action = SocketAction::kClose;
    return d;
  }
  if (peer_closed_ && output_.empty() && state_ != State::kAwaitingHandler) {
    d.action = SocketAction::kClose;  // nothing more will come and nothing is left to say
    return d;
  }
  // Level-triggered readiness: asking for input that will not be read would wake the loop forever.
  d.read = !closing_ && !peer_closed_ && state_ != State::kAwaitingHandler && output_has_room();
  d.deadline = next_deadline();
  if (output_.empty()) {
    input_.shrink_if_empty_and_larger_than(config_.limits.keep_buffer_bytes);
    output_.shrink_if_empty(config_.limits.keep_buffer_bytes);
  }
  return d;
}

}  // namespace http
