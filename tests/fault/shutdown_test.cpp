// SIGTERM while the server is under sustained load: every response a client receives is complete, the
// requests in flight are finished, and the process exits 0 within its grace period.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "integration/harness.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using harness::Client;
using harness::ServerProcess;

enum class Outcome {
  kComplete,   // a well-formed response with exactly Content-Length bytes of body
  kNoAnswer,   // closed or reset before the first byte of a response: allowed while shutting down
  kTruncated,  // closed part-way through a response
  kMalformed,  // bytes that are not an HTTP/1.1 response
};

struct StrictResponse {
  Outcome outcome = Outcome::kNoAnswer;
  int status = 0;
  bool closes = false;  // Connection: close
  std::string body;
  std::string problem;  // for kTruncated and kMalformed
};

bool is_token_char(char c) {
  constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return std::isalnum(static_cast<unsigned char>(c)) || kSymbols.find(c) != std::string_view::npos;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Reads exactly one response from `fd` (no pipelining, so nothing may follow it) and judges its framing
// independently of the harness parser: status line, header syntax, one Content-Length, the body bytes.
StrictResponse read_strict(int fd) {
  StrictResponse r;
  std::string bytes;
  std::size_t head_end = std::string::npos;
  std::size_t length = 0;
  const auto malformed = [&](std::string problem) {
    r.outcome = Outcome::kMalformed;
    r.problem = std::move(problem);
    r.problem.append(": ").append(bytes.substr(0, 200));
    return r;
  };
  for (;;) {
    if (head_end != std::string::npos && bytes.size() >= head_end + 4 + length) break;
    char chunk[65536];
    const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (bytes.empty() && (n == 0 || errno == ECONNRESET)) return r;
      r.outcome = Outcome::kTruncated;
      r.problem = n == 0 ? "end of stream" : (errno == EAGAIN ? "receive timeout" : "receive error");
      r.problem.append(" after ").append(std::to_string(bytes.size())).append(" bytes");
      return r;
    }
    bytes.append(chunk, static_cast<std::size_t>(n));
    if (head_end != std::string::npos) continue;
    head_end = bytes.find("\r\n\r\n");
    if (head_end == std::string::npos) continue;

    const std::string_view head = std::string_view(bytes).substr(0, head_end);
    std::size_t line_end = head.find("\r\n");
    const std::string_view status_line = head.substr(0, line_end);
    if (status_line.size() < 13 || status_line.substr(0, 9) != "HTTP/1.1 " || status_line[12] != ' ') {
      return malformed("bad status line");
    }
    const char* const code = status_line.data() + 9;
    const auto [status_end, status_error] = std::from_chars(code, code + 3, r.status);
    if (status_error != std::errc() || status_end != code + 3 || r.status < 100) {
      return malformed("bad status code");
    }
    int lengths = 0;
    while (line_end != std::string_view::npos) {
      const std::size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string_view line =
          head.substr(start, line_end == std::string_view::npos ? head.npos : line_end - start);
      const std::size_t colon = line.find(':');
      if (colon == 0 || colon == std::string_view::npos) return malformed("bad header line");
      for (char c : line.substr(0, colon)) {
        if (!is_token_char(c)) return malformed("bad header name");
      }
      const std::string name = lower(line.substr(0, colon));
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (name == "content-length") {
        ++lengths;
        const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), length);
        if (error != std::errc() || end != value.data() + value.size()) return malformed("bad Content-Length");
      }
      if (name == "connection" && lower(value) == "close") r.closes = true;
    }
    if (lengths != 1) return malformed("not exactly one Content-Length");
  }
  if (bytes.size() != head_end + 4 + length) return malformed("bytes after the response");
  r.body = bytes.substr(head_end + 4);
  r.outcome = Outcome::kComplete;
  return r;
}

std::optional<double> scrape(std::uint16_t port, std::string_view series) {
  const auto metrics = Client(port).request("GET", "/metrics");
  if (!metrics || metrics->status != 200) return std::nullopt;
  return harness::metric_value(metrics->body, series);
}

struct LoadTally {
  std::atomic<bool> stop{false};
  std::atomic<int> complete{0};
  std::atomic<int> unanswered{0};
  std::mutex mutex;
  std::vector<std::string> failures;

  void fail(std::string what) {
    std::lock_guard lock(mutex);
    if (failures.size() < 20) failures.push_back(std::move(what));
  }
};

// Joins the load threads on every way out of the test, stopping them first if the test ends early.
class LoadThreads {
 public:
  explicit LoadThreads(LoadTally& tally) : tally_(tally) {}
  ~LoadThreads() {
    tally_.stop = true;
    join();
  }
  LoadThreads(const LoadThreads&) = delete;
  LoadThreads& operator=(const LoadThreads&) = delete;

  template <typename... Args>
  void start(Args&&... args) {
    threads_.emplace_back(std::forward<Args>(args)...);
  }
  void join() {
    for (auto& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }

 private:
  LoadTally& tally_;
  std::vector<std::thread> threads_;
};

// One client thread: keep-alive requests in a loop, reconnecting whenever the server closes, until the
// server stops accepting connections (it is shutting down) or the deadline passes.
void generate_load(std::uint16_t port, int worker, Clock::time_point deadline, LoadTally& tally) {
  const std::string small = "sixteen bytes!!!";
  const std::string medium(256 * 1024, 'm');
  std::string own_id = "/api/buckets/load-";
  own_id.append(std::to_string(worker));
  const std::string own_value(1024, static_cast<char>('a' + worker));
  std::optional<Client> client;
  for (int i = 0; i < 1000000 && Clock::now() < deadline && !tally.stop.load(); ++i) {
    if (!client) {
      client.emplace(port, 10000ms);
      if (!client->connected()) return;  // the listener is gone
    }
    std::string request;
    std::string_view expected_body;
    switch (i % 4) {
      case 0:
        request = harness::build_request("GET", "/api/buckets/small");
        expected_body = small;
        break;
      case 1:
        request = harness::build_request("PUT", own_id, own_value);
        break;
      case 2:
        request = harness::build_request("GET", "/api/buckets/medium");
        expected_body = medium;
        break;
      default:
        request = harness::build_request("GET", own_id);
        expected_body = own_value;
        break;
    }
    if (!client->send(request)) {
      tally.unanswered.fetch_add(1);
      client.reset();
      continue;
    }
    const StrictResponse r = read_strict(client->fd());
    switch (r.outcome) {
      case Outcome::kNoAnswer:
        tally.unanswered.fetch_add(1);
        client.reset();
        continue;
      case Outcome::kTruncated:
      case Outcome::kMalformed:
        tally.fail(r.problem);
        client.reset();
        continue;
      case Outcome::kComplete:
        break;
    }
    tally.complete.fetch_add(1);
    if (r.status != 200) tally.fail(std::string("status ").append(std::to_string(r.status)));
    if (!expected_body.empty() && r.body != expected_body) {
      tally.fail(std::string("wrong body for ").append(request.substr(0, 40)));
    }
    if (r.closes) client.reset();
  }
}

// A sanitized server reports on its stderr, and ThreadSanitizer then carries on: a report must fail the test
// that provoked it even when the server keeps answering.
void expect_no_sanitizer_report(ServerProcess& server) {
  for (const std::string& line : server.log_lines()) {
    EXPECT_EQ(line.find("Sanitizer"), std::string::npos) << line;
    EXPECT_EQ(line.find("runtime error:"), std::string::npos) << line;
  }
}

TEST(ShutdownUnderLoadTest, SigtermFinishesEverythingInFlightAndExitsZeroWithinTheGracePeriod) {
  constexpr auto kGrace = 10000ms;  // generous: sanitized builds under load drain slowly, and it bounds only failures
  constexpr int kLoadThreads = 6;
  constexpr int kRequestsBeforeSignal = 200;  // per thread, so the signal lands in sustained traffic
  constexpr std::size_t kBigBytes = 16u << 20;
  ServerProcess server({"--shutdown-grace", std::to_string(kGrace.count()), "--threads", "2"});
  ASSERT_NE(server.port(), 0);
  {
    Client setup(server.port(), 10000ms);
    ASSERT_EQ(setup.request("PUT", "/api/buckets/small", "sixteen bytes!!!")->status, 200);
    ASSERT_EQ(setup.request("PUT", "/api/buckets/medium", std::string(256 * 1024, 'm'))->status, 200);
    ASSERT_EQ(setup.request("PUT", "/api/buckets/big", std::string(kBigBytes, 'B'))->status, 200);
  }

  // In flight at the signal: a PUT whose body is half sent...
  Client half_put(server.port(), 10000ms);
  ASSERT_TRUE(half_put.send("PUT /api/buckets/late HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhalf-"));
  ASSERT_TRUE(harness::eventually([&] { return scrape(server.port(), "http_requests_in_flight") == 2; }));
  // ...and a large response the client has only begun to read, so the server still holds most of it.
  Client slow_reader(server.port(), 10000ms);
  const int small_window = 64 * 1024;
  ::setsockopt(slow_reader.fd(), SOL_SOCKET, SO_RCVBUF, &small_window, sizeof small_window);
  ASSERT_TRUE(slow_reader.send(harness::build_request("GET", "/api/buckets/big")));
  pollfd readable{slow_reader.fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&readable, 1, 10000), 1);

  LoadTally tally;
  LoadThreads threads(tally);
  const auto load_deadline = Clock::now() + 40s;
  for (int worker = 0; worker < kLoadThreads; ++worker) {
    threads.start(generate_load, server.port(), worker, load_deadline, std::ref(tally));
  }
  const bool loaded = harness::eventually(
      [&] { return tally.complete.load() >= kLoadThreads * kRequestsBeforeSignal; }, 20000ms);

  const auto signalled = Clock::now();
  server.signal(SIGTERM);
  const bool draining = server.wait_for_log("\"event\":\"shutdown_started\"").has_value();
  // The log line comes before the event loops take up the drain; each one closes its listener as it does,
  // so a refused connection means every loop is draining.
  const bool listeners_closed = harness::eventually([&] { return !Client(server.port()).connected(); });

  // The half-sent PUT is completed and answered, then its connection closes.
  ASSERT_TRUE(half_put.send("done!"));
  const StrictResponse put = read_strict(half_put.fd());
  EXPECT_EQ(put.outcome, Outcome::kComplete) << put.problem;
  EXPECT_EQ(put.status, 200);
  EXPECT_TRUE(put.closes);
  // The large response arrives whole.
  const StrictResponse big = read_strict(slow_reader.fd());
  EXPECT_EQ(big.outcome, Outcome::kComplete) << big.problem;
  EXPECT_EQ(big.status, 200);
  EXPECT_EQ(big.body.size(), kBigBytes);
  EXPECT_TRUE(big.body == std::string(kBigBytes, 'B'));
  // Both connections end after their answers; these clients then let go, as real ones do.
  EXPECT_TRUE(half_put.wait_closed());
  EXPECT_TRUE(slow_reader.wait_closed());
  { const Client release_put = std::move(half_put); }
  { const Client release_reader = std::move(slow_reader); }

  const auto exit_code = server.wait_exit(kGrace + 5s);
  const auto exited_after = Clock::now() - signalled;
  threads.join();

  ASSERT_TRUE(loaded) << "load did not reach " << kRequestsBeforeSignal << " requests per thread";
  EXPECT_TRUE(draining);
  EXPECT_TRUE(listeners_closed);
  EXPECT_EQ(exit_code, 0);
  EXPECT_LT(exited_after, kGrace);
  EXPECT_TRUE(server.wait_for_log("\"event\":\"shutdown_complete\"", 1000ms));
  for (const std::string& line : server.log_lines()) {
    EXPECT_EQ(line.find("shutdown_grace_expired"), std::string::npos) << "something in flight did not finish";
  }
  EXPECT_GE(tally.complete.load(), kLoadThreads * kRequestsBeforeSignal);
  for (const std::string& failure : tally.failures) ADD_FAILURE() << failure;
  RecordProperty("responses_complete", tally.complete.load());
  RecordProperty("requests_unanswered_at_shutdown", tally.unanswered.load());
  RecordProperty("exit_after_ms",
                 static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(exited_after).count()));
  expect_no_sanitizer_report(server);
}

}  // namespace
