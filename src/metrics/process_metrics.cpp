#include "metrics/process_metrics.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <span>
#include <string_view>

#include "base/read_file.h"
#include "base/text.h"
#include "base/unique_fd.h"

namespace metrics {

namespace {

// Fields of /proc/<pid>/stat counted from the state (field 3, index 0); see proc(5).
constexpr std::size_t kUserTicks = 11;      // field 14, utime
constexpr std::size_t kSystemTicks = 12;    // field 15, stime
constexpr std::size_t kStartTicks = 19;     // field 22, starttime, in ticks since boot
constexpr std::size_t kVirtualBytes = 20;   // field 23, vsize
constexpr std::size_t kResidentPages = 21;  // field 24, rss
constexpr std::size_t kStatFieldsUsed = kResidentPages + 1;

using StatFields = std::array<std::optional<std::uint64_t>, kStatFieldsUsed>;

// A /proc/self/stat line is a few hundred bytes even with the longest comm.
constexpr std::size_t kStatBufferBytes = 4096;

struct DirCloser {
  void operator()(DIR* dir) const noexcept { ::closedir(dir); }
};

using base::parse_unsigned;

// comm (field 2) is in parentheses but may itself contain spaces and ')', so the numeric fields are taken
// after the LAST ')'. A field that is absent or not a number stays empty.
StatFields parse_stat_fields(std::string_view text) noexcept {
  StatFields fields{};
  std::size_t position = text.rfind(')');
  if (position == std::string_view::npos) return fields;
  ++position;
  for (std::optional<std::uint64_t>& field : fields) {
    position = text.find_first_not_of(" \n", position);
    if (position == std::string_view::npos) break;
    const std::size_t end = std::min(text.find_first_of(" \n", position), text.size());
    field = parse_unsigned(text.substr(position, end - position));
    position = end;
  }
  return fields;
}

std::optional<double> parse_btime_line(std::string_view line) noexcept {
  constexpr std::string_view kKey = "btime ";
  if (line.substr(0, kKey.size()) != kKey) return std::nullopt;
  const std::optional<std::uint64_t> seconds = parse_unsigned(line.substr(kKey.size()));
  if (!seconds) return std::nullopt;
  return static_cast<double>(*seconds);
}

// /proc/stat can be tens of kilobytes (one interrupt counter per IRQ line), so it is scanned line by line
// through a fixed buffer; lines longer than the buffer cannot be the btime line and are skipped.
std::optional<double> read_boot_time(const char* path) noexcept {
  const base::UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  std::array<char, 4096> buffer;
  std::size_t carried = 0;     // start of a line left over from the previous read, moved to the front
  bool skipping_line = false;  // inside a line that overflowed the buffer
  for (;;) {
    const ssize_t got = ::read(fd.get(), buffer.data() + carried, buffer.size() - carried);
    if (got < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    if (got == 0) {
      if (skipping_line) return std::nullopt;
      return parse_btime_line(std::string_view(buffer.data(), carried));  // last line had no newline
    }
    const std::string_view data(buffer.data(), carried + static_cast<std::size_t>(got));
    std::size_t line_start = 0;
    for (std::size_t newline = data.find('\n'); newline != std::string_view::npos;
         newline = data.find('\n', line_start)) {
      if (!skipping_line) {
        if (const std::optional<double> boot_time = parse_btime_line(data.substr(line_start, newline - line_start))) {
          return boot_time;
        }
      }
      skipping_line = false;
      line_start = newline + 1;
    }
    const std::string_view partial = data.substr(line_start);
    if (skipping_line || partial.size() == buffer.size()) {
      skipping_line = true;
      carried = 0;
    } else {
      std::memmove(buffer.data(), partial.data(), partial.size());
      carried = partial.size();
    }
  }
}

// Entries of the fd directory, less the descriptor opendir itself holds while listing it.
std::optional<std::uint64_t> count_open_fds(const char* path) noexcept {
  const std::unique_ptr<DIR, DirCloser> dir(::opendir(path));
  if (!dir) return std::nullopt;
  const int listing_fd = ::dirfd(dir.get());
  std::uint64_t count = 0;
  errno = 0;
  while (const dirent* entry = ::readdir(dir.get())) {
    const std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    int fd = -1;
    const auto [end, error] = std::from_chars(name.data(), name.data() + name.size(), fd);
    if (error == std::errc() && end == name.data() + name.size() && fd == listing_fd) continue;
    ++count;
  }
  if (errno != 0) return std::nullopt;
  return count;
}

std::optional<double> max_open_fds() noexcept {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nullopt;
  if (limit.rlim_cur == RLIM_INFINITY) return std::numeric_limits<double>::infinity();
  return static_cast<double>(limit.rlim_cur);
}

void write_single_sample(TextWriter& out, std::string_view name, std::string_view help, MetricType type,
                         double value) {
  out.family(name, help, type);
  out.sample(name, std::span<const Label>(), value);
}

}  // namespace

ProcessCollector::ProcessCollector(std::string proc_root)
    : self_stat_path_(proc_root + "/self/stat"),
      self_fd_path_(proc_root + "/self/fd"),
      stat_path_(proc_root + "/stat"),
      ticks_per_second_(::sysconf(_SC_CLK_TCK)),
      page_size_(::sysconf(_SC_PAGESIZE)) {}

void ProcessCollector::collect(TextWriter& out) const {
  StatFields stat{};
  std::array<char, kStatBufferBytes> buffer;
  if (const base::Result<std::size_t> size = base::read_whole_file(self_stat_path_.c_str(), buffer)) {
    stat = parse_stat_fields(std::string_view(buffer.data(), *size));
  }
  std::call_once(boot_time_read_, [this] { boot_time_seconds_ = read_boot_time(stat_path_.c_str()); });
  const bool have_ticks = ticks_per_second_ > 0;
  const double ticks_per_second = static_cast<double>(ticks_per_second_);

  // Alphabetical, the order in which client libraries' registries present these families.
  if (have_ticks && stat[kUserTicks] && stat[kSystemTicks]) {
    write_single_sample(out, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                        MetricType::kCounter,
                        static_cast<double>(*stat[kUserTicks] + *stat[kSystemTicks]) / ticks_per_second);
  }
  // The limit is reported only next to the count it bounds: without a readable fd table neither says much.
  if (const std::optional<std::uint64_t> open_fds = count_open_fds(self_fd_path_.c_str())) {
    if (const std::optional<double> max_fds = max_open_fds()) {
      write_single_sample(out, "process_max_fds", "Maximum number of open file descriptors.", MetricType::kGauge,
                          *max_fds);
    }
    write_single_sample(out, "process_open_fds", "Number of open file descriptors.", MetricType::kGauge,
                        static_cast<double>(*open_fds));
  }
  if (page_size_ > 0 && stat[kResidentPages]) {
    write_single_sample(out, "process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::kGauge,
                        static_cast<double>(*stat[kResidentPages]) * static_cast<double>(page_size_));
  }
  if (have_ticks && boot_time_seconds_ && stat[kStartTicks]) {
    write_single_sample(out, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                        MetricType::kGauge,
                        *boot_time_seconds_ + static_cast<double>(*stat[kStartTicks]) / ticks_per_second);
  }
  if (stat[kVirtualBytes]) {
    write_single_sample(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::kGauge,
                        static_cast<double>(*stat[kVirtualBytes]));
  }
}

}  // namespace metrics
