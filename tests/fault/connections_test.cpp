// Connection pressure against the real binary: thousands of concurrent keep-alive connections, and a
// server that runs out of file descriptors. Thousands of clients are driven from one epoll set with
// non-blocking sockets rather than one thread each.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <sstream>
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

constexpr std::string_view kHealthRequest = "GET /healthz HTTP/1.1\r\nHost: fault\r\n\r\n";

// Status of the first response in `bytes` once it is complete (head and Content-Length bytes of body).
std::optional<int> complete_response_status(std::string_view bytes) {
  const std::size_t head_end = bytes.find("\r\n\r\n");
  if (head_end == std::string_view::npos || bytes.substr(0, 9) != "HTTP/1.1 " || head_end < 12) return std::nullopt;
  int status = 0;
  std::from_chars(bytes.data() + 9, bytes.data() + 12, status);
  std::size_t length = 0;
  const std::string_view head = bytes.substr(0, head_end);
  for (std::string_view name : {"\r\nContent-Length:", "\r\ncontent-length:"}) {
    const std::size_t at = head.find(name);
    if (at == std::string_view::npos) continue;
    std::size_t begin = at + name.size();
    while (begin < head.size() && head[begin] == ' ') ++begin;
    std::from_chars(head.data() + begin, head.data() + head.size(), length);
  }
  if (bytes.size() - head_end - 4 < length) return std::nullopt;
  return status;
}

std::optional<double> scrape(Client& client, std::string_view series) {
  const auto metrics = client.request("GET", "/metrics");
  if (!metrics || metrics->status != 200) return std::nullopt;
  return harness::metric_value(metrics->body, series);
}

std::string log_tail(ServerProcess& server) {
  const std::vector<std::string> lines = server.log_lines();
  std::string tail;
  for (std::size_t i = lines.size() > 20 ? lines.size() - 20 : 0; i < lines.size(); ++i) {
    tail.append(lines[i]).append("\n");
  }
  return tail;
}

// Raises this process's soft descriptor limit (inherited by servers started afterwards) to `wanted`.
bool raise_fd_limit(rlim_t wanted) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
  if (limit.rlim_cur >= wanted) return true;
  if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max < wanted) return false;
  limit.rlim_cur = wanted;
  return ::setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

// Descriptors the process holds below `limit`: those are the slots RLIMIT_NOFILE = limit leaves it (a
// descriptor inherited with a higher number takes none of them).
std::size_t fds_below(pid_t pid, std::size_t limit) {
  std::string path = "/proc/";
  path.append(std::to_string(pid)).append("/fd");
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) return 0;
  std::size_t count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    if (entry->d_name[0] != '.' && std::strtoul(entry->d_name, nullptr, 10) < limit) ++count;
  }
  ::closedir(dir);
  return count;
}

// The whole of a small /proc file; empty when it cannot be read.
std::string read_proc_file(pid_t pid, std::string_view name) {
  std::string path = "/proc/";
  path.append(std::to_string(pid)).append("/").append(name);
  std::string text;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return text;
  char chunk[4096];
  ssize_t n;
  while ((n = ::read(fd, chunk, sizeof chunk)) > 0) text.append(chunk, static_cast<std::size_t>(n));
  ::close(fd);
  return text;
}

// User plus system CPU time of a process, from /proc/<pid>/stat fields 14 and 15.
std::optional<std::chrono::duration<double>> cpu_time(pid_t pid) {
  const std::string text = read_proc_file(pid, "stat");
  const std::size_t comm_end = text.rfind(')');
  if (comm_end == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(comm_end + 1));
  std::string field;
  double ticks = 0;
  int index = 3;  // the state, first field after the command name
  for (; index <= 15 && (fields >> field); ++index) {
    if (index >= 14) ticks += std::strtod(field.c_str(), nullptr);
  }
  if (index <= 15) return std::nullopt;
  return std::chrono::duration<double>(ticks / static_cast<double>(::sysconf(_SC_CLK_TCK)));
}

// Client connections that each send a request once connected and read its response, all driven from one
// epoll set. A peer is "refused" when the server closes it (or the connect fails) before a complete answer.
class Swarm {
 public:
  enum class State { kConnecting, kWaiting, kAnswered, kRefused };

  explicit Swarm(std::uint16_t port) : port_(port), epoll_fd_(::epoll_create1(EPOLL_CLOEXEC)) {}
  ~Swarm() {
    close_all();
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
  }
  Swarm(const Swarm&) = delete;
  Swarm& operator=(const Swarm&) = delete;

  // Starts `count` more connections; false when this process could not create a socket.
  bool add(std::size_t count) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port_);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (std::size_t i = 0; i < count; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) return false;
      peers_.push_back(Peer{fd, State::kConnecting, {}, 0});
      ++busy_;
      const std::size_t index = peers_.size() - 1;
      if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 && errno != EINPROGRESS) {
        finish(index, State::kRefused);
        continue;
      }
      watch(index, EPOLL_CTL_ADD, EPOLLOUT);
    }
    return true;
  }

  // Drives I/O until no peer is connecting or waiting; false when the timeout passed first.
  bool settle(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    std::vector<epoll_event> events(256);
    while (busy_ > 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left <= 0ms) return false;
      const int n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()),
                                 static_cast<int>(std::min<std::int64_t>(left.count(), 100)));
      for (int i = 0; i < n; ++i) on_event(events[static_cast<std::size_t>(i)].data.u64);
    }
    return true;
  }

  // Sends the request again on every answered peer that is still open.
  void resend() {
    for (std::size_t i = 0; i < peers_.size(); ++i) {
      Peer& peer = peers_[i];
      if (peer.state != State::kAnswered || peer.fd < 0) continue;
      peer.received.clear();
      peer.state = State::kWaiting;
      ++busy_;
      if (!send_request(i)) continue;
      watch(i, EPOLL_CTL_MOD, EPOLLIN);
    }
  }

  std::size_t count(State state) const {
    return static_cast<std::size_t>(
        std::count_if(peers_.begin(), peers_.end(), [state](const Peer& p) { return p.state == state; }));
  }
  std::size_t answered_with(int status) const {
    return static_cast<std::size_t>(std::count_if(peers_.begin(), peers_.end(), [status](const Peer& p) {
      return p.state == State::kAnswered && p.status == status;
    }));
  }
  // Answered peers whose connection the server has closed since.
  std::size_t closed_after_answer() const {
    return static_cast<std::size_t>(std::count_if(
        peers_.begin(), peers_.end(), [](const Peer& p) { return p.state == State::kAnswered && p.fd < 0; }));
  }
  std::size_t size() const { return peers_.size(); }

  void close_all() {
    for (Peer& peer : peers_) {
      if (peer.fd >= 0) ::close(peer.fd);
      peer.fd = -1;
    }
    busy_ = 0;
  }

 private:
  struct Peer {
    int fd;
    State state;
    std::string received;
    int status;
  };

  void watch(std::size_t index, int operation, std::uint32_t events) {
    epoll_event event{};
    event.events = events | EPOLLRDHUP;
    event.data.u64 = index;
    ::epoll_ctl(epoll_fd_, operation, peers_[index].fd, &event);
  }

  bool send_request(std::size_t index) {
    // A fresh socket buffer always takes this short request whole.
    const ssize_t n = ::send(peers_[index].fd, kHealthRequest.data(), kHealthRequest.size(), MSG_NOSIGNAL);
    if (n == static_cast<ssize_t>(kHealthRequest.size())) return true;
    finish(index, State::kRefused);
    return false;
  }

  void finish(std::size_t index, State state) {
    Peer& peer = peers_[index];
    if (peer.state == State::kConnecting || peer.state == State::kWaiting) --busy_;
    peer.state = state;
    if (state == State::kRefused && peer.fd >= 0) {
      ::close(peer.fd);
      peer.fd = -1;
    }
  }

  void on_event(std::size_t index) {
    Peer& peer = peers_[index];
    if (peer.fd < 0) return;
    if (peer.state == State::kConnecting) {
      int error = 0;
      socklen_t length = sizeof error;
      ::getsockopt(peer.fd, SOL_SOCKET, SO_ERROR, &error, &length);
      if (error != 0) {
        finish(index, State::kRefused);
        return;
      }
      peer.state = State::kWaiting;
      if (send_request(index)) watch(index, EPOLL_CTL_MOD, EPOLLIN);
      return;
    }
    char chunk[4096];
    for (;;) {
      const ssize_t n = ::recv(peer.fd, chunk, sizeof chunk, 0);
      if (n > 0) {
        peer.received.append(chunk, static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      // End of stream or reset: an answer that arrived whole still counts.
      if (peer.state == State::kWaiting && !complete_response_status(peer.received)) {
        finish(index, State::kRefused);
        return;
      }
      if (peer.state == State::kWaiting) answer(index);
      ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, peer.fd, nullptr);
      ::close(peer.fd);
      peer.fd = -1;
      return;
    }
    if (peer.state == State::kWaiting && complete_response_status(peer.received)) answer(index);
  }

  void answer(std::size_t index) {
    Peer& peer = peers_[index];
    peer.status = *complete_response_status(peer.received);
    finish(index, State::kAnswered);
  }

  std::uint16_t port_;
  int epoll_fd_;
  std::vector<Peer> peers_;
  std::size_t busy_ = 0;
};

// A sanitized server reports on its stderr, and ThreadSanitizer then carries on: a report must fail the test
// that provoked it even when the server keeps answering.
void expect_no_sanitizer_report(ServerProcess& server) {
  for (const std::string& line : server.log_lines()) {
    EXPECT_EQ(line.find("Sanitizer"), std::string::npos) << line;
    EXPECT_EQ(line.find("runtime error:"), std::string::npos) << line;
  }
}

TEST(ConnectionLoadTest, FiveThousandKeepAliveConnectionsWhileOthersAreServed) {
  constexpr std::size_t kConnections = 5000;
  constexpr std::size_t kConnectingAtOnce = 250;  // stays well inside the listen backlog
  // Both this process and the server (which inherits the limit) hold one descriptor per connection.
  ASSERT_TRUE(raise_fd_limit(kConnections + 1024)) << "RLIMIT_NOFILE hard limit is below " << kConnections + 1024;

  // Every connection comes from 127.0.0.1, and idle keep-alive connections need little memory when their
  // socket buffers are small: the budget then admits the 5,000 (about 32 KiB each, planned).
  ServerProcess server({"--threads", "2", "--max-connections", "6000", "--max-connections-per-client", "0",
                        "--socket-buffer-bytes", "4KiB"});
  ASSERT_NE(server.port(), 0);
  Client observer(server.port(), 10000ms);
  const auto baseline = scrape(observer, "http_connections_open");
  ASSERT_TRUE(baseline);

  // Another client keeps being served while the connections pile up.
  std::atomic<bool> ramp_done{false};
  std::atomic<int> probe_ok{0};
  std::atomic<int> probe_failed{0};
  std::thread prober([&] {
    Client probe(server.port(), 10000ms);
    for (int i = 0; i < 100000 && !ramp_done.load(); ++i) {
      const auto r = probe.request("GET", "/healthz");
      (r && r->status == 200 ? probe_ok : probe_failed).fetch_add(1);
      if (!r) break;
    }
  });

  Swarm swarm(server.port());
  bool settled = true;
  for (std::size_t opened = 0; opened < kConnections && settled; opened += kConnectingAtOnce) {
    ASSERT_TRUE(swarm.add(std::min(kConnectingAtOnce, kConnections - opened)));
    settled = swarm.settle(30000ms);
  }
  ramp_done = true;
  prober.join();
  ASSERT_TRUE(settled) << "connections still waiting for an answer";
  EXPECT_EQ(swarm.answered_with(200), kConnections);
  EXPECT_EQ(swarm.count(Swarm::State::kRefused), 0u);
  EXPECT_EQ(swarm.closed_after_answer(), 0u) << "keep-alive connections must stay open";
  EXPECT_GE(probe_ok.load(), 1);
  EXPECT_EQ(probe_failed.load(), 0);

  ASSERT_TRUE(harness::eventually([&] {
    return scrape(observer, "http_connections_open") == *baseline + static_cast<double>(kConnections);
  }, 10000ms)) << "open connections: " << scrape(observer, "http_connections_open").value_or(-1);

  // With every connection held, a separate client (existing or new) is still answered, promptly.
  for (int i = 0; i < 20; ++i) {
    const auto started = Clock::now();
    std::string id = "/api/buckets/held-";
    id.append(std::to_string(i));
    const auto put = observer.request("PUT", id, "value");
    ASSERT_TRUE(put);
    EXPECT_EQ(put->status, 200);
    const auto get = Client(server.port()).request("GET", id);
    ASSERT_TRUE(get);
    EXPECT_EQ(get->body, "value");
    EXPECT_LT(Clock::now() - started, 2s);
  }

  // Every held connection is still usable for a second request.
  swarm.resend();
  ASSERT_TRUE(swarm.settle(30000ms));
  EXPECT_EQ(swarm.answered_with(200), kConnections);

  swarm.close_all();
  EXPECT_TRUE(harness::eventually([&] { return scrape(observer, "http_connections_open") == *baseline; }, 15000ms))
      << "open connections: " << scrape(observer, "http_connections_open").value_or(-1);
  expect_no_sanitizer_report(server);
}

// UndefinedBehaviorSanitizer probes whether memory is readable through a pipe when it checks a dynamic type
// it has not seen before; with no descriptor left that probe fails and it reports a valid object as having
// an invalid vptr. For a server run out of descriptors on purpose, only that check is suppressed (the
// variable is ignored by builds without the sanitizer). The file is removed with this object.
class VptrCheckSuppression {
 public:
  VptrCheckSuppression() {
    std::string pattern = "/tmp/storage_api_fault_ubsan_XXXXXX";
    const int fd = ::mkstemp(pattern.data());
    if (fd < 0) return;
    constexpr std::string_view kRule = "vptr:*\n";
    const bool written = ::write(fd, kRule.data(), kRule.size()) == static_cast<ssize_t>(kRule.size());
    ::close(fd);
    if (written) path_ = pattern;
  }
  ~VptrCheckSuppression() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  VptrCheckSuppression(const VptrCheckSuppression&) = delete;
  VptrCheckSuppression& operator=(const VptrCheckSuppression&) = delete;

  std::vector<std::pair<std::string, std::string>> environment() const {
    if (path_.empty()) return {};
    std::string options;
    if (const char* inherited = std::getenv("UBSAN_OPTIONS"); inherited != nullptr && *inherited != '\0') {
      options.append(inherited).append(":");
    }
    options.append("suppressions=").append(path_);
    return {{"UBSAN_OPTIONS", options}};
  }

 private:
  std::string path_;
};

TEST(ConnectionLoadTest, RunningOutOfDescriptorsRefusesConnectionsWithoutSpinningAndRecovers) {
  constexpr rlim_t kServerFdLimit = 64;
  constexpr std::size_t kBeyondCapacity = 40;
  const VptrCheckSuppression sanitizer_needs_descriptors;
  ServerProcess server({"--threads", "1"}, sanitizer_needs_descriptors.environment());
  ASSERT_NE(server.port(), 0);
  Client existing(server.port(), 10000ms);
  const auto rejected_before = scrape(existing, "http_connections_rejected_total");
  ASSERT_TRUE(rejected_before);

  // Lowering the limit of the running server is the same as starting it with it, without a second spawner.
  rlimit limit{};
  ASSERT_EQ(::prlimit(server.pid(), RLIMIT_NOFILE, nullptr, &limit), 0);
  limit.rlim_cur = kServerFdLimit;
  ASSERT_EQ(::prlimit(server.pid(), RLIMIT_NOFILE, &limit, nullptr), 0);
  const std::size_t in_use = fds_below(server.pid(), kServerFdLimit);
  ASSERT_GT(in_use, 0u);
  ASSERT_LT(in_use, kServerFdLimit);
  const std::size_t capacity = kServerFdLimit - in_use;

  Swarm swarm(server.port());
  ASSERT_TRUE(swarm.add(capacity + kBeyondCapacity));
  ASSERT_TRUE(swarm.settle(20000ms)) << "connections neither served nor refused";
  const std::size_t refused = swarm.count(Swarm::State::kRefused);
  EXPECT_EQ(swarm.answered_with(200) + refused, capacity + kBeyondCapacity);
  EXPECT_GE(refused, kBeyondCapacity);
  EXPECT_GE(swarm.answered_with(200), 1u);
  EXPECT_EQ(swarm.closed_after_answer(), 0u);

  // Still full: the existing connection is served, and refusing more connections costs next to no CPU.
  const auto health = existing.request("GET", "/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  const auto cpu_before = cpu_time(server.pid());
  ASSERT_TRUE(cpu_before);
  Swarm pressure(server.port());
  const auto window_end = Clock::now() + 1s;
  int attempts = 0;
  while (Clock::now() < window_end && attempts < 200) {
    ASSERT_TRUE(pressure.add(1));
    ++attempts;
    pressure.settle(10ms);  // paces the attempts; unsettled ones are awaited below
  }
  const auto cpu_after = cpu_time(server.pid());
  ASSERT_TRUE(cpu_after);
  EXPECT_LT((*cpu_after - *cpu_before).count(), 0.5) << "the server spins while out of descriptors";
  ASSERT_TRUE(pressure.settle(10000ms));
  EXPECT_EQ(pressure.count(Swarm::State::kRefused), static_cast<std::size_t>(attempts));

  const auto rejected_full = scrape(existing, "http_connections_rejected_total");
  ASSERT_TRUE(rejected_full);
  EXPECT_GE(*rejected_full - *rejected_before, static_cast<double>(refused + static_cast<std::size_t>(attempts)));
  EXPECT_TRUE(server.wait_for_log("\"out_of_file_descriptors\"", 1000ms));

  // Capacity returns once the held connections go away.
  swarm.close_all();
  ASSERT_TRUE(harness::eventually([&] {
    const auto r = Client(server.port()).request("GET", "/healthz");
    return r && r->status == 200;
  }, 10000ms)) << "server log:\n" << log_tail(server);
  Swarm recovered(server.port());
  ASSERT_TRUE(recovered.add(capacity / 2));
  ASSERT_TRUE(recovered.settle(10000ms));
  EXPECT_EQ(recovered.answered_with(200), capacity / 2);
  expect_no_sanitizer_report(server);
}

}  // namespace
