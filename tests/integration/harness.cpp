#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace harness {

namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return std::string(text);
}

}  // namespace

ServerProcess::ServerProcess(std::vector<std::string> extra_args,
                             std::vector<std::pair<std::string, std::string>> env) {
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  std::vector<std::string> args = {STORAGE_API_BINARY, "--host", "127.0.0.1", "--port", "0"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());

  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    ::dup2(pipe_fds[1], 2);
    // Settings from the test machine's environment must not leak into the server under test.
    for (const char* name : {"PORT", "HOST", "THREADS", "MAX_BODY_BYTES", "MAX_STORAGE_BYTES", "MAX_CONNECTIONS",
                             "HEADER_TIMEOUT_MS", "BODY_TIMEOUT_MS", "IDLE_TIMEOUT_MS", "WRITE_TIMEOUT_MS",
                             "SHUTDOWN_DELAY_MS", "SHUTDOWN_GRACE_MS", "HISTOGRAM_BUCKETS", "LOG_LEVEL", "ACCESS_LOG",
                             "MAX_HEADER_BYTES", "MAX_REQUEST_LINE", "ADMIN_PORT", "ADMIN_MAX_CONNECTIONS",
                             "MAX_CONNECTIONS_PER_CLIENT", "BODY_MIN_RATE", "MAX_MEMORY_BYTES",
                             "MAX_INFLIGHT_BODY_BYTES", "MAX_CONNECTION_MEMORY_BYTES", "SOCKET_BUFFER_BYTES",
                             "READ_TOKEN_FILE", "WRITE_TOKEN_FILE"}) {
      ::unsetenv(name);
    }
    for (const auto& [name, value] : env) ::setenv(name.c_str(), value.c_str(), 1);
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(pipe_fds[1]);
  stderr_fd_ = pipe_fds[0];
  reader_ = std::thread([this] {
    std::string pending;
    char chunk[4096];
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [this] { return !stderr_paused_; });
      }
      const ssize_t n = ::read(stderr_fd_, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      pending.append(chunk, static_cast<std::size_t>(n));
      std::size_t newline;
      while ((newline = pending.find('\n')) != std::string::npos) {
        std::lock_guard lock(mutex_);
        lines_.push_back(pending.substr(0, newline));
        pending.erase(0, newline + 1);
        changed_.notify_all();
      }
    }
    std::lock_guard lock(mutex_);
    if (!pending.empty()) lines_.push_back(pending);
    stderr_closed_ = true;
    changed_.notify_all();
  });

  const auto listening = wait_for_log("\"event\":\"listening\"", 10000ms);
  if (!listening) return;  // port_ stays 0; tests assert on it
  const std::string_view line = *listening;
  const std::size_t at = line.find("\"port\":");
  if (at == std::string_view::npos) return;
  unsigned value = 0;
  const char* begin = line.data() + at + 7;
  std::from_chars(begin, line.data() + line.size(), value);
  port_ = static_cast<std::uint16_t>(value);
}

ServerProcess::~ServerProcess() {
  if (!exited_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
  }
  pause_stderr(false);  // the reader runs to EOF
  if (reader_.joinable()) reader_.join();
  if (stderr_fd_ >= 0) ::close(stderr_fd_);
}

std::optional<std::string> ServerProcess::wait_for_log(std::string_view needle, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  std::optional<std::string> found;
  changed_.wait_for(lock, timeout, [&] {
    for (const auto& line : lines_) {
      if (line.find(needle) != std::string::npos) {
        found = line;
        return true;
      }
    }
    return stderr_closed_;
  });
  return found;
}

std::vector<std::string> ServerProcess::log_lines() {
  std::lock_guard lock(mutex_);
  return lines_;
}

void ServerProcess::pause_stderr(bool paused) {
  std::lock_guard lock(mutex_);
  stderr_paused_ = paused;
  changed_.notify_all();
}

void ServerProcess::signal(int signal_number) { ::kill(pid_, signal_number); }

std::optional<int> ServerProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (exited_) return exit_code_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      exited_ = true;
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      if (!WIFEXITED(status)) return std::nullopt;
      return exit_code_;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    // Polling the child's state: waitpid has no timeout of its own.
    std::this_thread::sleep_for(5ms);
  }
}

std::string Response::header(const std::string& name) const {
  const auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

Client::Client(std::uint16_t port, std::chrono::milliseconds timeout) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return;
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  const int on = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

Client::~Client() {
  if (fd_ >= 0) ::close(fd_);
}

Client::Client(Client&& other) noexcept : fd_(std::exchange(other.fd_, -1)), buffer_(std::move(other.buffer_)) {}

bool Client::send(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

void Client::shutdown_write() { ::shutdown(fd_, SHUT_WR); }

bool Client::fill() {
  char chunk[65536];
  for (;;) {
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }
}

MaybeResponse Client::read_response(bool head_request) {
  std::size_t head_end;
  while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) return std::nullopt;
  }
  Response response;
  const std::string head = buffer_.substr(0, head_end);
  std::size_t line_end = head.find("\r\n");
  const std::string status_line = head.substr(0, line_end);
  if (status_line.rfind("HTTP/1.1 ", 0) != 0 || status_line.size() < 12) return std::nullopt;
  response.status = std::atoi(status_line.substr(9, 3).c_str());
  response.reason = status_line.size() > 13 ? status_line.substr(13) : "";
  std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    std::size_t end = head.find("\r\n", pos);
    if (end == std::string::npos) end = head.size();
    const std::string line = head.substr(pos, end - pos);
    const std::size_t colon = line.find(':');
    if (colon == std::string::npos) return std::nullopt;
    response.headers.emplace(lower(line.substr(0, colon)), trim(std::string_view(line).substr(colon + 1)));
    pos = end + 2;
  }
  buffer_.erase(0, head_end + 4);
  std::size_t length = 0;
  if (response.has_header("content-length")) length = std::stoul(response.header("content-length"));
  if (head_request || response.status == 100 || response.status == 304) length = 0;
  while (buffer_.size() < length) {
    if (!fill()) return std::nullopt;
  }
  response.body = buffer_.substr(0, length);
  buffer_.erase(0, length);
  return response;
}

long cpu_ticks(pid_t pid) {
  const int fd = ::open(("/proc/" + std::to_string(pid) + "/stat").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char text[1024];
  const ssize_t n = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  if (n <= 0) return -1;
  text[n] = '\0';
  // Fields after the command name, which is in parentheses and may contain anything: state is field 3,
  // utime 14 and stime 15.
  const char* at = std::strrchr(text, ')');
  if (at == nullptr) return -1;
  long ticks = 0;
  int field = 2;
  for (const char* p = at + 1; *p != '\0' && field < 15;) {
    while (*p == ' ') ++p;
    ++field;
    char* end = nullptr;
    const long value = std::strtol(p, &end, 10);
    if (field == 14 || field == 15) ticks += value;
    while (*p != ' ' && *p != '\0') ++p;
  }
  return ticks;
}

bool Client::wait_closed_within(std::chrono::milliseconds limit, std::string* leftover) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::max<long long>(0, left.count())));
    if (ready == 0) return false;
    if (ready < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n > 0) {
      if (leftover) leftover->append(chunk, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n == 0) return true;
    return errno == ECONNRESET;
  }
}

bool Client::wait_closed(std::string* leftover) {
  for (;;) {
    char chunk[65536];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) {
      if (leftover) leftover->append(chunk, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) return true;
    return errno == ECONNRESET;
  }
}

std::string build_request(std::string_view method, std::string_view target, std::string_view body,
                          std::string_view extra_headers) {
  std::string request;
  request.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: localhost\r\n");
  const bool sends_body = !body.empty() || method == "PUT" || method == "POST";
  if (sends_body) request.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  request.append(extra_headers);
  request.append("\r\n");
  request.append(body);
  return request;
}

MaybeResponse Client::request(std::string_view method, std::string_view target, std::string_view body,
                                        std::string_view extra_headers) {
  if (!send(build_request(method, target, body, extra_headers))) return std::nullopt;
  return read_response(method == "HEAD");
}

std::optional<double> metric_value(const std::string& exposition, std::string_view series) {
  std::size_t pos = 0;
  while (pos < exposition.size()) {
    std::size_t end = exposition.find('\n', pos);
    if (end == std::string::npos) end = exposition.size();
    const std::string_view line(exposition.data() + pos, end - pos);
    if (line.size() > series.size() && line.substr(0, series.size()) == series && line[series.size()] == ' ') {
      return std::strtod(std::string(line.substr(series.size() + 1)).c_str(), nullptr);
    }
    pos = end + 1;
  }
  return std::nullopt;
}

std::string scrape(std::uint16_t port) {
  auto r = Client(port).request("GET", "/metrics");
  return r ? r->body : std::string();
}

bool await_metric(std::uint16_t port, std::string_view series, double value, std::chrono::milliseconds timeout) {
  return eventually([&] { return metric_value(scrape(port), series) == value; }, timeout);
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

}  // namespace harness
