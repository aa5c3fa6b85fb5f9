#pragma once
// The client, the socket and the clock fuzz_connection drives one http::Connection with, as the server
// does: it reports events, calls advance(now) and obeys the Directive, checking after every advance what
// must hold of it (see the invariants in fuzz_connection.cpp).
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/memory_account.h"
#include "fuzz_check.h"
#include "fuzz_connection_handler.h"
#include "fuzz_connection_wire.h"
#include "http/connection.h"

namespace fuzz_connection {

using Clock = http::Connection::Clock;
using Directive = http::Connection::Directive;
using http::SocketAction;

struct Plan {
  http::ConnectionConfig config;  // accounts are the run's own
  std::uint64_t seed = 0;
  DeferPolicy defer;
  std::size_t bodies_limit = 0;   // 0: no account
  std::size_t buffers_limit = 0;  // 0: no account
  bool direct = false;
  bool bytewise = false;
  bool whole = false;  // the stream in one read
  bool events = false;
  bool peer_closes_at_end = false;
};

struct RunResult {
  explicit RunResult(const Plan& plan)
      : bodies(plan.bodies_limit), buffers(plan.buffers_limit), stored(SIZE_MAX), rng(plan.seed),
        handler(plan.bodies_limit ? &bodies : nullptr, stored, plan.defer, rng) {
    handler.buffers_set = plan.buffers_limit != 0;
  }
  base::MemoryAccount bodies;
  base::MemoryAccount buffers;
  base::MemoryAccount stored;  // what the handler's store holds: outlives the handler
  Rng rng;                     // the schedule, shared with the handler (answers completed inside handle())
  BucketHandler handler;
  std::string wire;  // everything the client read
  std::vector<WireResponse> responses;
  bool closed = false;
  bool aborted = false;
};

// Drives one Connection through the stream as the server would, checking the invariants as it goes.
class Run {
 public:
  Run(const Plan& plan, RunResult& result) : plan_(plan), result_(result), rng_(result.rng), config_(plan.config) {
    config_.accounts.bodies = plan.bodies_limit ? &result.bodies : nullptr;
    config_.accounts.buffers = plan.buffers_limit ? &result.buffers : nullptr;
    dates_.update(1'700'000'000);
    connection_.emplace(config_, result.handler, dates_, now_);
    conn().set_wake([this] { ++wakes_; });
  }

  void execute(std::string_view stream) {
    advance();  // a new connection: nothing received yet
    std::size_t sent = 0;
    while (sent < stream.size() && !peer_closed_ && !terminal()) {
      if (!wait_until_read()) break;  // the connection waits for an answer that never comes
      const std::string_view rest = stream.substr(sent);
      const std::size_t n = plan_.whole ? rest.size() : plan_.bytewise ? 1 : read_size(rest.size());
      const std::size_t direct = plan_.direct && !plan_.whole && rng_.below(2) == 0 ? deliver_direct(rest) : 0;
      if (direct == 0) deliver(rest.substr(0, n));
      sent += direct != 0 ? direct : n;
      if (!terminal() && last_.write && rng_.below(3) == 0) write_some(false);
      if (!terminal() && rng_.below(4) == 0) complete_one();
      if (!terminal() && rng_.below(4) == 0) pass_time_before_deadline();
      if (!terminal() && plan_.events && rng_.below(12) == 0) inject_event();
    }
    // Events also come after the last byte, when a connection is most often idle.
    if (plan_.events && !peer_closed_ && !terminal() && rng_.below(2) == 0) inject_event();
    if (plan_.peer_closes_at_end && !peer_closed_ && !terminal()) peer_close();
    settle();
    if (plan_.events) run_out_the_clock();
    result_.closed = terminal() || shut_;
    result_.aborted = last_.action == SocketAction::kAbort;
    after_the_end();
    result_.responses = read_responses(result_.wire, handler().answers, handler().continue_requests, result_.aborted);
    if (!result_.responses.empty() && result_.responses.back().close) FUZZ_CHECK(result_.closed);
  }

 private:
  http::Connection& conn() { return *connection_; }
  BucketHandler& handler() { return result_.handler; }
  bool terminal() const { return last_.action == SocketAction::kClose || last_.action == SocketAction::kAbort; }

  std::size_t read_size(std::size_t left) {
    switch (rng_.below(4)) {
      case 0: return 1;
      case 1: return 1 + rng_.below(std::min<std::size_t>(left, 8));
      case 2: return 1 + rng_.below(std::min<std::size_t>(left, 64));
      default: return 1 + rng_.below(left);
    }
  }

  // One read from the socket. Each read gets a fresh allocation, freed once advance() returns: a
  // connection that kept a view of the owner's read buffer past that point reads freed memory (ASan).
  void deliver(std::string_view bytes) {
    const auto buffer = std::make_unique<char[]>(bytes.size());
    std::memcpy(buffer.get(), bytes.data(), bytes.size());
    conn().on_received(std::string_view(buffer.get(), bytes.size()));
    advance();
  }

  // A read straight into the body, when the connection offers room for one; the bytes it took.
  std::size_t deliver_direct(std::string_view rest) {
    const std::span<char> room = conn().direct_input();
    if (room.empty()) return 0;
    std::size_t n = std::min(room.size(), rest.size());
    if (rng_.below(2) == 0) n = 1 + rng_.below(n);
    std::memcpy(room.data(), rest.data(), n);
    conn().on_received_direct(n);
    advance();
    return n;
  }

  // The client reads what is queued as a socket takes it: an iovec array of some size, some of the
  // gathered bytes, or none (the write would block). With must_progress at least one byte is taken.
  void write_some(bool must_progress) {
    const std::size_t queued = conn().buffered_output();
    iovec iov[16];
    const std::size_t slots = 1 + rng_.below(16);
    const std::size_t count = conn().gather_output(std::span<iovec>(iov, slots));
    FUZZ_CHECK(count >= 1 && count <= slots);
    std::size_t gathered = 0;
    for (std::size_t i = 0; i < count; ++i) {
      FUZZ_CHECK(iov[i].iov_base != nullptr && iov[i].iov_len > 0);
      gathered += iov[i].iov_len;
    }
    FUZZ_CHECK(gathered <= queued);
    if (count < slots) FUZZ_CHECK(gathered == queued);  // room for more iovecs: nothing was left out
    if (!must_progress && rng_.below(4) == 0) {
      block();
      return;
    }
    const std::size_t take = rng_.below(2) == 0 ? gathered : 1 + rng_.below(gathered);
    std::size_t left = take;
    for (std::size_t i = 0; i < count && left > 0; ++i) {
      const std::size_t part = std::min(left, iov[i].iov_len);
      result_.wire.append(static_cast<const char*>(iov[i].iov_base), part);
      left -= part;
    }
    conn().on_written(take);
    blocked_since_.reset();
    advance();
    if (!must_progress && !terminal() && last_.write && rng_.below(3) == 0) block();  // a partial write, then EAGAIN
  }

  void block() {
    conn().on_write_blocked();
    if (!blocked_since_) blocked_since_ = now_;
    advance();
  }

  // A deferred answer the handler completes now; false when there is none.
  bool complete_one() {
    BucketHandler::Pending* pending = handler().completable();
    if (pending == nullptr) return false;
    FUZZ_CHECK(conn().awaiting_handler());
    const int wakes = wakes_;
    const std::size_t answers = handler().answers.size();
    pending->handle.complete(pending->answer);
    FUZZ_CHECK(wakes_ == wakes + 1);  // the owner is told to advance
    // The answer, and the refusal of input behind it that the buffer budget could not hold, if any.
    const std::size_t now_answered = handler().answers.size();
    FUZZ_CHECK(now_answered == answers + 1 || now_answered == answers + 2);
    if (now_answered == answers + 2) {
      const Answered& refusal = handler().answers.back();
      FUZZ_CHECK(refusal.status == 503 && refusal.from_connection && refusal.retry_after && plan_.buffers_limit != 0);
    }
    FUZZ_CHECK(!pending->handle.connection_alive());
    pending->handle.complete(pending->answer);  // a second completion does nothing
    FUZZ_CHECK(wakes_ == wakes + 1 && handler().answers.size() == now_answered);
    advance();
    return true;
  }

  // Lets time pass, short of the deadline: nothing may happen.
  void pass_time_before_deadline() {
    const Clock::duration room = last_.deadline == Clock::time_point::max() ? Clock::duration(std::chrono::seconds(10)) : last_.deadline - now_;
    if (room <= Clock::duration::zero()) return;
    now_ += Clock::duration(static_cast<Clock::rep>(rng_.below(static_cast<std::uint64_t>(room.count()))));
    Directive expected = last_;
    if (expected.action == SocketAction::kShutdownWrite) expected.action = SocketAction::kKeep;  // said once
    const std::size_t queued = conn().buffered_output();
    const std::size_t calls = handler().transcript.size();
    advance();
    FUZZ_CHECK(last_.read == expected.read && last_.write == expected.write && last_.action == expected.action &&
               last_.deadline == expected.deadline);
    FUZZ_CHECK(conn().buffered_output() == queued && handler().transcript.size() == calls);
  }

  // Lets the deadline pass (when there is one): something is due.
  void pass_deadline() {
    if (last_.deadline == Clock::time_point::max()) return;
    now_ = last_.deadline + (rng_.below(2) == 0 ? Clock::duration::zero() : Clock::duration(rng_.below(3'000'000'000)));
    advance();
  }

  void peer_close() {
    handler().abandon_allowed = true;
    peer_closed_ = true;
    conn().on_peer_closed();
    advance();
  }

  void inject_event() {
    switch (rng_.below(5)) {
      case 0:
      case 1:
        pass_deadline();
        return;
      case 2:
        handler().draining = true;
        conn().begin_drain();
        advance();
        return;
      case 3:
        if (last_.write) block();
        return;
      default:
        peer_close();
        return;
    }
  }

  // The client cannot send while the connection does not read: it reads responses, the handler answers,
  // deadlines pass. False when nothing can make the connection read again (an answer that never comes).
  bool wait_until_read() {
    while (!last_.read && !terminal()) {
      if (last_.write) {
        write_some(true);
      } else if (!complete_one()) {
        if (plan_.events && last_.deadline != Clock::time_point::max()) {
          pass_deadline();
          continue;
        }
        FUZZ_CHECK(handler().never_pending());  // otherwise the connection is stuck
        return false;
      }
    }
    return !terminal();
  }

  // The client reads everything and the handler answers everything it will.
  void settle() {
    while (!terminal()) {
      if (last_.write) {
        write_some(true);
      } else if (!complete_one()) {
        return;
      }
    }
  }

  // With events: time runs on until the connection ends, which it must, unless an answer never comes.
  void run_out_the_clock() {
    for (int round = 0; round < 16 && !terminal(); ++round) {
      settle();
      if (terminal() || last_.deadline == Clock::time_point::max()) break;
      pass_deadline();
    }
    if (!handler().never_pending()) FUZZ_CHECK(terminal());
  }

  // What the owner may still do: a late answer, one more advance(); then the connection is destroyed and
  // the answers that never came are completed, which must do nothing.
  void after_the_end() {
    if (terminal()) {
      const SocketAction final_action = last_.action;
      if (rng_.below(2) == 0) {
        while (BucketHandler::Pending* pending = handler().completable()) pending->handle.complete(pending->answer);
      }
      advance();
      FUZZ_CHECK(last_.action == final_action);
    }
    handler().abandon_allowed = true;
    connection_.reset();
    FUZZ_CHECK(handler().begun == handler().ended && !handler().active());
    FUZZ_CHECK(result_.bodies.used() == 0 && result_.buffers.used() == 0);
    const std::string calls = handler().transcript;
    for (BucketHandler::Pending& pending : handler().pending()) {
      FUZZ_CHECK(!pending.handle.connection_alive());
      pending.handle.complete(pending.answer);
    }
    FUZZ_CHECK(handler().transcript == calls);
  }

  // advance(), and what must hold after every one.
  void advance() {
    const Directive before = last_;
    const bool was_terminal = advanced_ && terminal();
    const std::size_t calls_before = handler().transcript.size();
    last_ = conn().advance(now_);
    advanced_ = true;
    const Directive& d = last_;
    const std::size_t queued = conn().buffered_output();
    const BucketHandler& h = handler();

    // Budgets hold.
    FUZZ_CHECK(result_.bodies.used() <= result_.bodies.limit() && result_.buffers.used() <= result_.buffers.limit());

    if (was_terminal) {
      // Final: the socket is gone, nothing is written, handled or decided any more.
      FUZZ_CHECK(d.action == before.action && !d.write && !d.read);
      FUZZ_CHECK(handler().transcript.size() == calls_before);
      return;
    }
    if (d.action != SocketAction::kAbort) FUZZ_CHECK(d.write == (queued > 0));
    if (d.action == SocketAction::kClose) FUZZ_CHECK(queued == 0 && !d.read);
    if (d.action == SocketAction::kAbort) {
      const bool reader_stalled = blocked_since_ && now_ - *blocked_since_ >= config_.timeouts.write;
      FUZZ_CHECK(reader_stalled || plan_.buffers_limit != 0);
      FUZZ_CHECK(!d.read && !d.write);
    }
    // A reader that keeps the connection blocked is cut off at the write timeout, not later.
    if (blocked_since_ && queued > 0) {
      if (now_ - *blocked_since_ >= config_.timeouts.write) FUZZ_CHECK(d.action == SocketAction::kAbort);
      if (d.action == SocketAction::kKeep) FUZZ_CHECK(d.deadline <= *blocked_since_ + config_.timeouts.write);
    }
    if (d.action == SocketAction::kKeep) FUZZ_CHECK(d.deadline > now_);

    // Deferred answers: one pending at a time, and while it is, no request is read.
    FUZZ_CHECK(h.live_pending() == (conn().awaiting_handler() ? 1u : 0u));
    if (conn().awaiting_handler()) FUZZ_CHECK(!d.read);
    // Nothing to write and nothing owed: a kept connection must want input, or nothing would ever wake it.
    if (d.action == SocketAction::kKeep && !d.write && !conn().awaiting_handler()) FUZZ_CHECK(d.read);

    // Closing: after an answer that closes, or once the peer left and nothing is owed.
    if (d.action == SocketAction::kShutdownWrite) {
      FUZZ_CHECK(!shut_ && h.refusal_answered && queued == 0 && d.read);
      shut_ = true;
    }
    if (d.action == SocketAction::kClose && h.refusal_answered && !shut_) FUZZ_CHECK(peer_closed_);
    if (shut_) {
      // Lingering: the peer's bytes are drained, never read as requests, and nothing more is written.
      FUZZ_CHECK(queued == 0 && !d.write);
    }
    if (h.close_answered && !shut_) {
      FUZZ_CHECK(!d.read);
      if (queued == 0) FUZZ_CHECK(d.action != SocketAction::kKeep);
    }
    if (peer_closed_ && d.action == SocketAction::kKeep) FUZZ_CHECK(!d.read || shut_);
  }

  const Plan& plan_;
  RunResult& result_;
  Rng& rng_;
  http::ConnectionConfig config_;
  http::DateCache dates_;
  Clock::time_point now_ = Clock::time_point() + std::chrono::hours(1);
  std::optional<http::Connection> connection_;
  Directive last_;
  std::optional<Clock::time_point> blocked_since_;
  int wakes_ = 0;
  bool advanced_ = false;
  bool shut_ = false;
  bool peer_closed_ = false;
};

inline void run(std::string_view stream, const Plan& plan, RunResult& result) { Run(plan, result).execute(stream); }

}  // namespace fuzz_connection
