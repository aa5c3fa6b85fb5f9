#pragma once
// Test harness for the integration tests: runs the real storage_api binary on an ephemeral loopback port
// and talks to it over real sockets. The HTTP client here is deliberately independent of src/http, so the
// server's parser and serialiser are checked against a second implementation.
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace harness {

using namespace std::chrono_literals;

// The storage_api process under test. Starts with --host 127.0.0.1 --port 0, waits for its "listening" log
// line and reads the bound port from it. Every stderr line is kept for assertions.
class ServerProcess {
 public:
  explicit ServerProcess(std::vector<std::string> extra_args = {},
                         std::vector<std::pair<std::string, std::string>> env = {});
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }

  // Waits until a stderr line contains `needle`; returns that line, or nullopt on timeout.
  std::optional<std::string> wait_for_log(std::string_view needle, std::chrono::milliseconds timeout = 5000ms);
  std::vector<std::string> log_lines();
  // Stops (true) or resumes reading the server's stderr, so its pipe fills up as behind a log collector
  // that stalls. A read already under way completes first; lines read so far stay available.
  void pause_stderr(bool paused);

  void signal(int signal_number);
  // Waits for the process to exit; its exit code, or nullopt on timeout (or when killed by a signal).
  std::optional<int> wait_exit(std::chrono::milliseconds timeout = 10000ms);

 private:
  pid_t pid_ = -1;
  int stderr_fd_ = -1;
  std::uint16_t port_ = 0;
  bool exited_ = false;
  int exit_code_ = -1;
  std::thread reader_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> lines_;
  bool stderr_closed_ = false;
  bool stderr_paused_ = false;
};

struct Response {
  int status = 0;
  std::string reason;
  std::multimap<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string header(const std::string& name) const;
  bool has_header(const std::string& name) const { return headers.count(name) > 0; }
};

// A response that may be missing (timeout, closed connection, garbage). Unlike std::optional, reading
// through -> on a missing one is safe and yields status 0 and empty fields, so a failed request makes the
// test's assertions fail instead of its process crash.
class MaybeResponse {
 public:
  MaybeResponse() = default;
  MaybeResponse(std::nullopt_t) {}
  MaybeResponse(Response response) : value_(std::move(response)), present_(true) {}
  explicit operator bool() const { return present_; }
  bool has_value() const { return present_; }
  const Response* operator->() const { return &value_; }
  const Response& operator*() const { return value_; }
  operator std::optional<Response>() const { return present_ ? std::optional<Response>(value_) : std::nullopt; }

 private:
  Response value_;
  bool present_ = false;
};

// One blocking TCP connection to the server with a receive timeout, for hand-made requests.
class Client {
 public:
  explicit Client(std::uint16_t port, std::chrono::milliseconds timeout = 5000ms);
  ~Client();
  Client(Client&& other) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool send(std::string_view bytes);
  // Reads one response; `head_request` means no body follows even with a Content-Length.
  MaybeResponse read_response(bool head_request = false);
  // True when the server closed the connection (EOF or reset) before the timeout; any bytes read first
  // are appended to `leftover` if given.
  bool wait_closed(std::string* leftover = nullptr);
  // The same, waiting at most `limit` (false when the connection is still open then).
  bool wait_closed_within(std::chrono::milliseconds limit, std::string* leftover = nullptr);
  // Bytes received so far but not yet consumed by read_response().
  const std::string& buffered() const { return buffer_; }
  void shutdown_write();
  int fd() const { return fd_; }

  // One request, one response: builds a minimal HTTP/1.1 request with Host and Content-Length.
  MaybeResponse request(std::string_view method, std::string_view target, std::string_view body = {},
                                  std::string_view extra_headers = {});

 private:
  bool fill();  // one recv into buffer_; false on EOF, error or timeout
  int fd_ = -1;
  std::string buffer_;
};

std::string build_request(std::string_view method, std::string_view target, std::string_view body = {},
                          std::string_view extra_headers = {});

// Value of the first sample line `name{labels} value` (labels exactly as rendered), or nullopt.
std::optional<double> metric_value(const std::string& exposition, std::string_view series);

// GET /metrics on a fresh connection; the exposition text, or empty on failure.
std::string scrape(std::uint16_t port);

// Polls /metrics until the sample `series` has `value`; false on timeout.
bool await_metric(std::uint16_t port, std::string_view series, double value,
                  std::chrono::milliseconds timeout = 5000ms);

// CPU time (user + system) a process has used, in clock ticks, from /proc/<pid>/stat.
long cpu_ticks(pid_t pid);

// Polls `condition` until true or the timeout passes; no fixed sleeps in tests.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 5000ms);

}  // namespace harness
