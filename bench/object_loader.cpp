// object_loader: stores many small objects in storage_api over pipelined keep-alive connections, the way
// Redis' DEBUG POPULATE fills Redis, for bench/object_memory.sh.
//
//   object_loader [--count N] [--prefix P] [--value-bytes B] [--connections C] [--depth D]
//                 [--content-type T] [--timeout SECONDS] PORT
//
// PUTs N objects (default 472000) to 127.0.0.1:PORT as /api/buckets/P:<i> for i in [0, N), with the ids
// and values DEBUG POPULATE N P B makes: P:<i>, and "value:<i>" padded with zero bytes to B (default 100)
// bytes. C connections (default 4, one thread each) keep D requests (default 64) in flight. Prints
// "stored <N> in <seconds> s"; exits 1 when an answer is not 200, a connection fails or the time limit
// (default 120 s) passes, 2 on bad usage.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/unique_fd.h"

namespace {

struct Options {
  long count = 472000;
  std::string prefix = "bench-objs";
  long value_bytes = 100;
  long connections = 4;
  long depth = 64;
  std::string content_type = "application/octet-stream";
  long timeout_seconds = 120;
  std::uint16_t port = 0;
};

using Clock = std::chrono::steady_clock;

bool parse_long(const char* text, long low, long high, long& out) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value < low || value > high) return false;
  out = value;
  return true;
}

bool parse(int argc, char** argv, Options& options) {
  long port = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--count" && has_value) {
      if (!parse_long(argv[++i], 1, 100'000'000, options.count)) return false;
    } else if (arg == "--prefix" && has_value) {
      options.prefix = argv[++i];
    } else if (arg == "--value-bytes" && has_value) {
      if (!parse_long(argv[++i], 0, 1 << 20, options.value_bytes)) return false;
    } else if (arg == "--connections" && has_value) {
      if (!parse_long(argv[++i], 1, 256, options.connections)) return false;
    } else if (arg == "--depth" && has_value) {
      if (!parse_long(argv[++i], 1, 4096, options.depth)) return false;
    } else if (arg == "--content-type" && has_value) {
      options.content_type = argv[++i];
    } else if (arg == "--timeout" && has_value) {
      if (!parse_long(argv[++i], 1, 3600, options.timeout_seconds)) return false;
    } else if (i == argc - 1 && parse_long(argv[i], 1, 65535, port)) {
      options.port = static_cast<std::uint16_t>(port);
    } else {
      return false;
    }
  }
  return options.port != 0;
}

base::UniqueFd connect_to(std::uint16_t port) {
  base::UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fd;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) return base::UniqueFd();
  const int one = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

void append_request(const Options& options, long i, std::string& out) {
  std::string id = options.prefix;
  id.append(":").append(std::to_string(i));
  std::string value = "value:" + std::to_string(i);
  value.resize(static_cast<std::size_t>(options.value_bytes), '\0');
  out.append("PUT /api/buckets/").append(id).append(" HTTP/1.1\r\nHost: bench\r\nContent-Type: ");
  out.append(options.content_type).append("\r\nContent-Length: ").append(std::to_string(value.size()));
  out.append("\r\n\r\n").append(value);
}

// Consumes complete responses from the front of `in`; returns how many, or -1 on a non-200 answer.
long take_responses(std::string& in) {
  long taken = 0;
  std::size_t at = 0;
  for (;;) {
    const std::size_t head_end = in.find("\r\n\r\n", at);
    if (head_end == std::string::npos) break;
    const std::string_view head(in.data() + at, head_end - at);
    if (head.substr(0, 12) != "HTTP/1.1 200") {
      std::fprintf(stderr, "object_loader: answer %.*s\n", static_cast<int>(head.find('\r')), head.data());
      return -1;
    }
    std::size_t body = 0;
    const std::size_t length = head.find("ontent-Length: ");
    if (length != std::string_view::npos) body = std::strtoul(head.data() + length + 15, nullptr, 10);
    if (in.size() < head_end + 4 + body) break;
    at = head_end + 4 + body;
    ++taken;
  }
  in.erase(0, at);
  return taken;
}

// One connection: PUTs the ids i with i % connections == index.
bool run_connection(const Options& options, long index, Clock::time_point deadline) {
  const base::UniqueFd fd = connect_to(options.port);
  if (!fd) {
    std::perror("object_loader: connect");
    return false;
  }
  long next = index;
  long in_flight = 0;
  std::string out;
  std::string in;
  char buffer[64 * 1024];
  while (next < options.count || in_flight > 0) {
    if (Clock::now() > deadline) {
      std::fprintf(stderr, "object_loader: time limit passed\n");
      return false;
    }
    while (in_flight < options.depth && next < options.count) {
      append_request(options, next, out);
      next += options.connections;
      ++in_flight;
    }
    pollfd p{fd.get(), static_cast<short>(POLLIN | (out.empty() ? 0 : POLLOUT)), 0};
    if (poll(&p, 1, 1000) < 0) return false;
    if ((p.revents & POLLOUT) != 0) {
      const ssize_t n = send(fd.get(), out.data(), out.size(), MSG_NOSIGNAL);
      if (n < 0) return false;
      out.erase(0, static_cast<std::size_t>(n));
    }
    if ((p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const ssize_t n = recv(fd.get(), buffer, sizeof buffer, 0);
      if (n <= 0) {
        std::fprintf(stderr, "object_loader: connection closed\n");
        return false;
      }
      in.append(buffer, static_cast<std::size_t>(n));
      const long answered = take_responses(in);
      if (answered < 0) return false;
      in_flight -= answered;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!parse(argc, argv, options)) {
    std::fprintf(stderr,
                 "usage: object_loader [--count N] [--prefix P] [--value-bytes B] [--connections C] [--depth D] "
                 "[--content-type T] [--timeout SECONDS] PORT\n");
    return 2;
  }
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::seconds(options.timeout_seconds);
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (long c = 0; c < options.connections; ++c) {
    threads.emplace_back([&, c] {
      if (!run_connection(options, c, deadline)) failed = true;
    });
  }
  for (std::thread& thread : threads) thread.join();
  if (failed) return 1;
  std::printf("stored %ld in %.2f s\n", options.count,
              std::chrono::duration<double>(Clock::now() - start).count());
  return 0;
}
