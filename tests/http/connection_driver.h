#pragma once
// Test support for http::Connection: a handler that records every call, and a driver that plays the
// socket and the clock the way the server does (deliver bytes, write what is queued, let time pass).
#include <chrono>
#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "http/connection.h"

namespace http_test {

using Clock = http::Connection::Clock;
using Directive = http::Connection::Directive;

struct Recorded {
  int status = 0;
  std::uint32_t tag = 0;
  std::string method_token;
  std::string path;
  std::string target;
  bool request_line_parsed = false;
  http::Refusal refusal = http::Refusal::kNone;
  std::string request_id;
};

// GET answers with the path as body; PUT records its body; special paths: /refuse (admit_body 404),
// /defer (answer later), /throw (std::bad_alloc), /fail (another exception), /big (a shared 64 KiB body).
class RecordingHandler final : public http::Handler {
 public:
  std::uint32_t on_request_begin(const http::RequestHead&) override {
    ++begun;
    return 7;
  }
  bool admit_body(const http::RequestHead& head, std::uint64_t bytes, http::Response& refusal) override {
    admitted.push_back(bytes);
    if (head.path == "/refuse") {
      refusal = http::Response::error(404);
      return false;
    }
    if (bytes > admit_limit) {
      refusal = http::Response::error(507);
      return false;
    }
    return true;
  }
  void handle(const http::RequestHead& head, base::ByteBuilder& body, http::Response& response,
              http::Deferrer& deferrer) override {
    handled.push_back(std::string(http::method_name(head.method)) + " " + std::string(head.path) + " " +
                      std::string(body.view()));
    if (head.path == "/defer") {
      pending.push_back(deferrer.defer());
      return;
    }
    if (head.path == "/throw") throw std::bad_alloc();
    if (head.path == "/fail") throw std::runtime_error("handler bug");
    if (head.path == "/big") {
      if (!big) big = base::SharedBytes::copy_of(std::string(64 * 1024, 'b'));
      response.body_owner = big;
      response.body = big.view();
      return;
    }
    scratch = std::string(head.path);
    response.body = scratch;
    response.content_type = "text/plain";
  }
  void on_request_end() override { ++ended; }
  void on_response(const http::ResponseRecord& record) override {
    records.push_back(Recorded{record.status, record.tag, std::string(record.method_token), std::string(record.path),
                               std::string(record.target), record.request_line_parsed, record.refusal,
                               record.request_id ? std::string(record.request_id->text()) : std::string()});
  }

  int begun = 0;
  int ended = 0;
  std::uint64_t admit_limit = UINT64_MAX;
  std::vector<std::uint64_t> admitted;
  std::vector<std::string> handled;
  std::vector<Recorded> records;
  std::vector<http::PendingResponse> pending;
  std::string scratch;
  base::SharedBytes big;
};

inline http::ConnectionConfig small_config() {
  http::ConnectionConfig config;
  config.limits.max_body_bytes = 100;
  config.timeouts.header = std::chrono::milliseconds(1000);
  config.timeouts.body = std::chrono::milliseconds(2000);
  config.timeouts.idle = std::chrono::milliseconds(5000);
  config.timeouts.write = std::chrono::milliseconds(3000);
  config.timeouts.linger = std::chrono::milliseconds(500);
  config.timeouts.body_min_rate = 0;
  return config;
}

class Driver {
 public:
  Driver(const http::ConnectionConfig& config, http::Handler& handler)
      : now(Clock::time_point() + std::chrono::hours(1)), conn(config, handler, dates, now) {
    dates.update(1'700'000'000);
  }

  // One read of `bytes` from the socket.
  Directive deliver(std::string_view bytes) {
    read_buffer_.assign(bytes);
    conn.on_received(read_buffer_);
    return last = conn.advance(now);
  }
  Directive close_input() {
    conn.on_peer_closed();
    return last = conn.advance(now);
  }
  Directive advance() { return last = conn.advance(now); }
  Directive pass(Clock::duration elapsed) {
    now += elapsed;
    return advance();
  }
  // Writes what is queued, as a socket that takes at most `limit` bytes now; returns the bytes written.
  std::string write(std::size_t limit = SIZE_MAX) {
    std::string out;
    while (conn.buffered_output() > 0 && out.size() < limit) {
      iovec iov[16];
      const std::size_t count = conn.gather_output(iov);
      std::size_t taken = 0;
      for (std::size_t i = 0; i < count && out.size() < limit; ++i) {
        const std::size_t take = std::min(iov[i].iov_len, limit - out.size());
        out.append(static_cast<const char*>(iov[i].iov_base), take);
        taken += take;
      }
      conn.on_written(taken);
      last = conn.advance(now);
    }
    if (conn.buffered_output() > 0) {
      conn.on_write_blocked();
      last = conn.advance(now);
    }
    return out;
  }

  http::DateCache dates;
  Clock::time_point now;
  http::Connection conn;
  Directive last;

 private:
  std::string read_buffer_;
};

inline int count(const std::string& text, std::string_view needle) {
  int n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace http_test
