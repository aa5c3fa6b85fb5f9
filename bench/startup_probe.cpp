// startup_probe: how long a server takes from exec to its first answer.
//
//   startup_probe [--runs N] [--cpu C] [--path /p] PORT -- COMMAND [ARGS...]
//
// Each run forks, optionally pins the child to CPU C, execs COMMAND (environment inherited, output
// discarded), then tries connect + "GET <path>" on 127.0.0.1:PORT every 50 µs until a "HTTP/1.x 200"
// status line comes back. The time from just before fork to that answer is one sample. The server is then
// stopped with SIGTERM (SIGKILL after 2 s) and reaped before the next run, so no earlier instance can answer.
// At the first answer it also reads the CPU time the server has used so far (all its threads, from
// /proc/<pid>/task/*/schedstat): unlike the wall time, that does not grow when other load delays the start.
// Prints "startup_us median <m> min <a> max <b> cpu_us median <c> runs <n>"; exits 1 if any run got no
// answer within 5 s.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int runs = 20;
  int cpu = -1;
  std::string path = "/";
  std::uint16_t port = 0;
  std::vector<char*> command;  // null-terminated for execvp
};

std::optional<Options> parse_options(int argc, char** argv) {
  Options options;
  int i = 1;
  for (; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") break;
    if (i + 1 >= argc) return std::nullopt;
    if (arg == "--runs") {
      options.runs = std::atoi(argv[++i]);
    } else if (arg == "--cpu") {
      options.cpu = std::atoi(argv[++i]);
    } else if (arg == "--path") {
      options.path = argv[++i];
    } else {
      options.port = static_cast<std::uint16_t>(std::atoi(argv[i]));
    }
  }
  if (i + 1 >= argc || options.port == 0 || options.runs < 1) return std::nullopt;
  options.command.assign(argv + i + 1, argv + argc);
  options.command.push_back(nullptr);
  return options;
}

pid_t start_server(const Options& options) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  if (options.cpu >= 0) {
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    CPU_SET(options.cpu, &cpus);
    ::sched_setaffinity(0, sizeof cpus, &cpus);
  }
  const int null_fd = ::open("/dev/null", O_WRONLY);
  ::dup2(null_fd, STDOUT_FILENO);
  ::dup2(null_fd, STDERR_FILENO);
  ::execvp(options.command[0], options.command.data());
  ::_exit(127);
}

// One connect + GET; true when a 200 status line came back.
bool answered_200(const Options& options) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(options.port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = false;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0) {
    const timeval timeout{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    const std::string request = "GET " + options.path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
      char status_line[12];
      std::size_t got = 0;
      while (got < sizeof status_line) {
        const ssize_t n = ::recv(fd, status_line + got, sizeof status_line - got, 0);
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
      }
      ok = got == sizeof status_line && std::string_view(status_line, 5) == "HTTP/" &&
           std::string_view(status_line + 9, 3) == "200";
    }
  }
  ::close(fd);
  return ok;
}

// On-CPU time of every thread of the process so far, in microseconds (first field of schedstat, in ns).
double cpu_us_so_far(pid_t pid) {
  const std::string task_dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* tasks = ::opendir(task_dir.c_str());
  if (tasks == nullptr) return 0;
  double nanoseconds = 0;
  while (const dirent* entry = ::readdir(tasks)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream schedstat(task_dir + "/" + entry->d_name + "/schedstat");
    double on_cpu = 0;
    if (schedstat >> on_cpu) nanoseconds += on_cpu;
  }
  ::closedir(tasks);
  return nanoseconds / 1000;
}

double median_of(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

void stop_server(pid_t pid) {
  ::kill(pid, SIGTERM);
  const auto deadline = Clock::now() + std::chrono::seconds(2);
  while (::waitpid(pid, nullptr, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<Options> options = parse_options(argc, argv);
  if (!options) {
    std::fprintf(stderr, "usage: startup_probe [--runs N] [--cpu C] [--path /p] PORT -- COMMAND [ARGS...]\n");
    return 2;
  }
  std::vector<double> samples_us;
  std::vector<double> cpu_samples_us;
  for (int run = 0; run < options->runs; ++run) {
    const auto started = Clock::now();
    const pid_t pid = start_server(*options);
    if (pid < 0) return 1;
    bool answered = false;
    bool died = false;
    while (Clock::now() - started < std::chrono::seconds(5)) {
      if (answered_200(*options)) {
        answered = true;
        break;
      }
      if (::waitpid(pid, nullptr, WNOHANG) == pid) {
        died = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    const auto elapsed = Clock::now() - started;
    if (answered) cpu_samples_us.push_back(cpu_us_so_far(pid));
    if (!died) stop_server(pid);
    if (!answered) {
      std::fprintf(stderr, "startup_probe: no answer from %s on port %u within 5 s\n", options->command[0],
                   options->port);
      return 1;
    }
    samples_us.push_back(std::chrono::duration<double, std::micro>(elapsed).count());
  }
  std::sort(samples_us.begin(), samples_us.end());
  std::printf("startup_us median %.0f min %.0f max %.0f cpu_us median %.0f runs %zu\n", median_of(samples_us),
              samples_us.front(), samples_us.back(), median_of(cpu_samples_us), samples_us.size());
  return 0;
}
