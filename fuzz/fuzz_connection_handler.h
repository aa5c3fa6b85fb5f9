#pragma once
// The handler fuzz_connection serves requests with: a bucket store on a std::map with the service's routing
// rules, which checks the order and arguments of every call it gets and records what each request was
// answered with, so the run can match every response on the wire to its request. It can answer later
// (deferred), refuse a body as it grows, and fail as a buggy or out-of-memory handler would.
//
// Special ids: "full" refuses a PUT body over 16 bytes (507, also mid-way through a chunked body); "bye"
// asks for the connection to close; "big" is a stored 20 KiB value (sent as a shared slice); "fail" throws
// from handle() (500), "oom" throws std::bad_alloc (503); ids starting with "defer" are answered later and
// ids starting with "never" are deferred and never answered while the connection lives.
#include <cstddef>
#include <cstdint>
#include <map>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "base/memory_account.h"
#include "base/shared_bytes.h"
#include "fuzz_check.h"
#include "http/handler.h"
#include "http/router.h"

namespace fuzz_connection {

// splitmix64: a few lines, good enough to spread a 16-bit seed over read and write sizes and event moments.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) noexcept : state_(seed) {}
  std::uint64_t next() noexcept {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) noexcept { return n == 0 ? 0 : next() % n; }

 private:
  std::uint64_t state_;
};

inline bool refusal_status_fits(http::Refusal reason, int status) {
  switch (reason) {
    case http::Refusal::kNone:
      return true;
    case http::Refusal::kMalformed:
      return status == 400 || status == 411 || status == 414 || status == 417 || status == 431 || status == 501 ||
             status == 505;
    case http::Refusal::kHeadTimeout:
    case http::Refusal::kBodyTimeout:
      return status == 408;
    case http::Refusal::kBodyTooLarge:
      return status == 413;
    case http::Refusal::kBodyBudget:
    case http::Refusal::kBufferBudget:
    case http::Refusal::kAllocationFailed:
      return status == 503;
  }
  return false;
}

// One final response as the handler saw it (on_response order) and what its bytes must be.
struct Answered {
  int status = 0;
  bool head_request = false;     // sent without its body
  bool from_connection = false;  // the connection's own answer: refused framing, timeout, budget, handler failure
  bool must_close = false;       // says Connection: close (refusals, "bye", a client that asked to close)
  bool may_close = false;        // may say it anyway (shutdown had begun)
  bool retry_after = false;      // a budget refusal: Retry-After
  bool no_date = false;          // the allocation-free 503
  std::string body;              // the body it carries (its length only, for HEAD)
};

struct HandledCall {
  http::Method method = http::Method::kUnknown;
  std::string id;
  std::string body;
};

struct DeferPolicy {
  bool all = false;  // every handled request
  bool odd = false;  // every other handled request (by its number, so any schedule defers the same ones)
};

class BucketHandler final : public http::Handler {
 public:
  struct Pending {
    http::PendingResponse handle;
    http::Response answer;  // self-contained: its body is static or held by answer.body_owner
    bool never = false;
  };

  BucketHandler(base::MemoryAccount* bodies, base::MemoryAccount& stored, DeferPolicy policy, Rng& rng)
      : bodies_(bodies), stored_(stored), policy_(policy), rng_(rng) {
    id_buffer_.reserve(http::kMaxIdBytes);
    std::string big(20 * 1024, 'b');
    for (std::size_t i = 0; i < big.size(); i += 997) big[i] = static_cast<char>('A' + i % 26);
    store_["big"] = base::SharedBytes::copy_of(big, &stored_);
  }

  std::uint32_t on_request_begin(const http::RequestHead& head) override {
    FUZZ_CHECK(!active_);
    FUZZ_CHECK(!close_answered);  // nothing is read after an answer that closes
    active_ = true;
    admitted_ = handled_ = answered_ = threw_ = admit_refused_ = false;
    admitted_total_ = 0;
    keep_alive_ = head.keep_alive;
    head_request_ = head.method == http::Method::kHead;
    current_ = http::Response();
    ++begun;
    tag_ = static_cast<std::uint32_t>(begun);
    if (head.expect_continue && head.version_minor == 1) ++continue_requests;
    transcript += 'B';
    return tag_;
  }

  bool admit_body(const http::RequestHead& head, std::uint64_t body_bytes, http::Response& refusal) override {
    FUZZ_CHECK(active_ && !handled_ && !answered_);
    FUZZ_CHECK(head.has_body());  // asked only when a body is announced
    if (head.has_content_length) {
      FUZZ_CHECK(!admitted_ && body_bytes == head.content_length);  // once, with the whole length
    } else {
      FUZZ_CHECK(head.chunked && body_bytes >= admitted_total_);  // per chunk, the running total
      FUZZ_CHECK(admitted_ || body_bytes == 0);                     // first from the head alone
    }
    admitted_ = true;
    admitted_total_ = body_bytes;
    transcript += 'A';
    transcript += std::to_string(body_bytes);
    match_ = http::match_route(head.path, id_buffer_);
    if (head.expect_continue && refuse_by_route(head, refusal)) return refuse_body(refusal);
    if (head.method == http::Method::kPut && match_.route == http::Route::kBucket && !match_.bad_id &&
        match_.id == "full" && body_bytes > 16) {
      refusal = http::Response::error(507);
      return refuse_body(refusal);
    }
    return true;
  }

  void handle(const http::RequestHead& head, base::ByteBuilder& body, http::Response& response,
              http::Deferrer& deferrer) override {
    FUZZ_CHECK(active_ && !handled_ && !answered_ && !admit_refused_);
    FUZZ_CHECK(admitted_ == head.has_body());
    handled_ = true;
    if (!head.has_body()) FUZZ_CHECK(body.empty());
    if (head.has_content_length) FUZZ_CHECK(body.size() == head.content_length);
    if (head.chunked) FUZZ_CHECK(body.size() == admitted_total_);
    // The body is charged to the in-flight budget while it is held.
    FUZZ_CHECK(body.account() == bodies_);
    if (bodies_ != nullptr) FUZZ_CHECK(body.charge().bytes() >= body.size());
    transcript += 'H';
    transcript += http::method_name(head.method);
    transcript += head.target;
    transcript += ' ';
    transcript += std::to_string(body.size());
    transcript += ':';
    transcript += body.view();

    match_ = http::match_route(head.path, id_buffer_);
    const std::string id(match_.route == http::Route::kBucket && !match_.bad_id ? match_.id : std::string_view());
    if (id == "fail") {
      threw_ = true;
      throw std::runtime_error("handler bug");
    }
    if (id == "oom") {
      threw_ = true;
      throw std::bad_alloc();
    }
    answer(head, id, body, response);
    current_ = response;

    ++handled;
    const bool never = id.starts_with("never");
    if (!never && !id.starts_with("defer") && !policy_.all && !(policy_.odd && handled % 2 == 1)) return;
    Pending pending{deferrer.defer(), response, never};
    FUZZ_CHECK(pending.handle.connection_alive());
    // Sometimes the answer is ready before handle() returns, which must work as a plain answer does.
    if (!never && rng_.below(4) == 0) {
      pending.handle.complete(pending.answer);
      FUZZ_CHECK(!pending.handle.connection_alive());
      return;
    }
    pending_.push_back(std::move(pending));
  }

  void on_request_end() override {
    FUZZ_CHECK(active_);
    // Only a peer that went away, or the owner destroying the connection, may leave a request unanswered.
    if (!answered_) FUZZ_CHECK(abandon_allowed);
    active_ = false;
    ++ended;
    transcript += 'E';
  }

  void on_response(const http::ResponseRecord& record) override {
    FUZZ_CHECK(!close_answered);  // an answer that closes is the last one
    FUZZ_CHECK(refusal_status_fits(record.refusal, record.status));
    Answered a;
    a.status = record.status;
    a.head_request = record.method == http::Method::kHead;
    a.may_close = draining;
    if (active_) {
      FUZZ_CHECK(!answered_);
      answered_ = true;
      FUZZ_CHECK(record.tag == tag_);  // on_request_begin's answer comes back
      FUZZ_CHECK(record.request_line_parsed && a.head_request == head_request_);
    } else {
      // Refused before a head could be parsed: only the connection answers that.
      FUZZ_CHECK(record.refusal != http::Refusal::kNone && record.tag == http::kNoTag);
    }
    if (record.refusal != http::Refusal::kNone || threw_) {
      a.from_connection = true;
      if (threw_) {
        FUZZ_CHECK(record.status == 500 || record.refusal == http::Refusal::kAllocationFailed);
      } else {
        FUZZ_CHECK(record.refusal != http::Refusal::kAllocationFailed);
      }
      if (record.refusal == http::Refusal::kBodyBudget) FUZZ_CHECK(bodies_ != nullptr);
      if (record.refusal == http::Refusal::kBufferBudget) FUZZ_CHECK(buffers_set);
      a.retry_after = record.status == 503;
      a.no_date = record.refusal == http::Refusal::kAllocationFailed;
      a.body = std::string(http::error_body(record.status));
      ++connection_refusals;
    } else if (admit_refused_) {
      FUZZ_CHECK(record.status == current_.status);
      a.body = std::string(current_.body);
    } else {
      FUZZ_CHECK(active_ && handled_);
      FUZZ_CHECK(record.status == current_.status);
      a.body = std::string(current_.body);
    }
    const bool refusal = a.from_connection || admit_refused_;
    a.must_close = refusal || !active_ || current_.close || !keep_alive_;
    if (refusal) refusal_answered = true;
    if (a.must_close) close_answered = true;
    answers.push_back(std::move(a));
    transcript += 'R';
    transcript += std::to_string(record.status);
  }

  bool active() const noexcept { return active_; }
  // A deferred answer that may be completed now, or null.
  Pending* completable() noexcept {
    for (Pending& p : pending_) {
      if (!p.never && p.handle.connection_alive()) return &p;
    }
    return nullptr;
  }
  std::size_t live_pending() const noexcept {
    std::size_t n = 0;
    for (const Pending& p : pending_) n += p.handle.connection_alive() ? 1 : 0;
    return n;
  }
  bool never_pending() const noexcept {
    for (const Pending& p : pending_) {
      if (p.never && p.handle.connection_alive()) return true;
    }
    return false;
  }
  std::vector<Pending>& pending() noexcept { return pending_; }

  std::map<std::string, base::SharedBytes, std::less<>> store_;
  std::vector<HandledCall> calls;
  std::vector<Answered> answers;
  std::string transcript;  // every call in order, for comparing two runs of the same stream
  int begun = 0;
  int ended = 0;
  int handled = 0;
  int continue_requests = 0;
  int connection_refusals = 0;
  bool abandon_allowed = false;
  bool draining = false;
  bool buffers_set = false;
  bool refusal_answered = false;  // an answer after which the connection half-closes and lingers
  bool close_answered = false;    // an answer after which the connection closes

 private:
  bool refuse_body(const http::Response& refusal) {
    admit_refused_ = true;
    current_ = refusal;
    return false;
  }

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

  // The service's semantics: PUT stores, GET/HEAD return, DELETE erases (400 when absent).
  void answer(const http::RequestHead& head, const std::string& id, base::ByteBuilder& body,
              http::Response& response) {
    if (refuse_by_route(head, response)) return;
    if (match_.route != http::Route::kBucket) {
      response.content_type = "text/plain";
      response.body = "fixed";
      return;
    }
    calls.push_back(HandledCall{head.method, id, std::string(body.view())});
    if (id == "bye") response.close = true;
    switch (head.method) {
      case http::Method::kGet:
      case http::Method::kHead: {
        const auto found = store_.find(id);
        if (found == store_.end()) {
          response = http::Response::error(404);
          return;
        }
        response.content_type = http::kOctetStreamContentType;
        response.body_owner = found->second;
        response.body = found->second.view();
        return;
      }
      case http::Method::kPut: {
        // The body becomes the stored value without a copy; its charge moves to the store's account.
        base::SharedBytes value = std::move(body).freeze();
        if (!value) {
          // Even an empty value needs its header block, which a spent body budget refuses.
          FUZZ_CHECK(bodies_ != nullptr);
          response = http::Response::error(503);
          return;
        }
        base::MemoryReservation* charge = value.sole_owner_charge();
        FUZZ_CHECK(charge != nullptr && charge->move_to(stored_));
        store_[id] = std::move(value);
        return;
      }
      case http::Method::kDelete:
        if (store_.erase(id) == 0) response = http::Response::error(400);
        return;
      default:
        response = http::Response::error(405);
        return;
    }
  }

  base::MemoryAccount* bodies_;
  base::MemoryAccount& stored_;
  DeferPolicy policy_;
  Rng& rng_;
  std::vector<Pending> pending_;
  std::string id_buffer_;
  http::RouteMatch match_;
  http::Response current_;  // the answer of the active request
  std::uint32_t tag_ = http::kNoTag;
  std::uint64_t admitted_total_ = 0;
  bool active_ = false;
  bool admitted_ = false;
  bool handled_ = false;
  bool answered_ = false;
  bool admit_refused_ = false;
  bool threw_ = false;
  bool keep_alive_ = true;
  bool head_request_ = false;
};

}  // namespace fuzz_connection
