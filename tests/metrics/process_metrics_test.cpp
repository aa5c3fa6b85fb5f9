#include "metrics/process_metrics.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include "support/temp_dir.h"
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/unique_fd.h"

namespace metrics {
namespace {

std::string render(const ProcessCollector& collector) {
  std::string out;
  TextWriter writer(out);
  collector.collect(writer);
  return out;
}

// Sample values by metric name; the process families carry no labels.
std::map<std::string, double> sample_values(std::string_view page) {
  std::map<std::string, double> values;
  while (!page.empty()) {
    const std::size_t newline = page.find('\n');
    const std::string_view line = page.substr(0, newline);
    page.remove_prefix(newline == std::string_view::npos ? page.size() : newline + 1);
    if (line.empty() || line.front() == '#') continue;
    const std::size_t space = line.find(' ');
    values[std::string(line.substr(0, space))] = std::strtod(std::string(line.substr(space + 1)).c_str(), nullptr);
  }
  return values;
}

std::optional<double> value_of(const std::string& page, const std::string& name) {
  const std::map<std::string, double> values = sample_values(page);
  const auto found = values.find(name);
  if (found == values.end()) return std::nullopt;
  return found->second;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

using test_support::TempDir;

void write_file(const std::filesystem::path& path, std::string_view content) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream file(path, std::ios::binary);
  file << content;
  ASSERT_TRUE(file.good()) << path;
}

std::string formatted(double value) {
  std::string out;
  append_value(out, value);
  return out;
}

TEST(ProcessCollector, ReportsPlausibleValuesFromRealProc) {
  const ProcessCollector collector;
  const std::string page = render(collector);
  const double now = now_seconds();
  const std::map<std::string, double> values = sample_values(page);

  for (const std::string_view name : {"process_cpu_seconds_total", "process_max_fds", "process_open_fds",
                                      "process_resident_memory_bytes", "process_start_time_seconds",
                                      "process_virtual_memory_bytes"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(values.count(std::string(name)), 1u) << page;
  }
  EXPECT_NE(page.find("# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
                      "# TYPE process_cpu_seconds_total counter\n"),
            std::string::npos)
      << page;
  EXPECT_NE(page.find("# TYPE process_resident_memory_bytes gauge\n"), std::string::npos) << page;

  EXPECT_GE(values.at("process_cpu_seconds_total"), 0.0);
  EXPECT_GT(values.at("process_resident_memory_bytes"), 0.0);
  EXPECT_GT(values.at("process_virtual_memory_bytes"), values.at("process_resident_memory_bytes"));
  EXPECT_GE(values.at("process_open_fds"), 3.0);
  rlimit limit{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  EXPECT_EQ(values.at("process_max_fds"), static_cast<double>(limit.rlim_cur));
  const double start = values.at("process_start_time_seconds");
  EXPECT_LE(start, now);
  EXPECT_GT(start, now - 24 * 60 * 60);
}

// Counts open descriptors without /proc, by asking the kernel about each number in turn.
double probe_open_fds() {
  rlimit limit{};
  EXPECT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  const rlim_t highest = std::min<rlim_t>(limit.rlim_cur, 1 << 16);
  double open = 0;
  for (rlim_t fd = 0; fd < highest; ++fd) {
    if (::fcntl(static_cast<int>(fd), F_GETFD) != -1) ++open;
  }
  return open;
}

TEST(ProcessCollector, OpenFdsMatchesTheDescriptorTableExactly) {
  // The directory listing holds one descriptor of its own while it runs; it must not be counted.
  const ProcessCollector collector;
  const std::optional<double> reported = value_of(render(collector), "process_open_fds");
  ASSERT_TRUE(reported.has_value());
  EXPECT_EQ(*reported, probe_open_fds());
}

TEST(ProcessCollector, CountsDescriptorsAsTheyOpen) {
  const ProcessCollector collector;
  const std::optional<double> before = value_of(render(collector), "process_open_fds");
  ASSERT_TRUE(before.has_value());
  std::vector<base::UniqueFd> extra;
  for (int i = 0; i < 3; ++i) {
    extra.emplace_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(extra.back().valid());
  }
  EXPECT_EQ(value_of(render(collector), "process_open_fds"), *before + 3);
  extra.clear();
  EXPECT_EQ(value_of(render(collector), "process_open_fds"), *before);
}

// A stat line whose comm holds ") (" and spaces: only parsing after the last ')' gets the fields right.
// Fields from 3 on: state, ppid, pgrp, session, tty, tpgid, flags, minflt, cminflt, majflt, cmajflt,
// utime=150, stime=50, cutime, cstime, priority, nice, threads, itrealvalue, starttime=123456,
// vsize=987654321, rss=2500, then the rest.
constexpr std::string_view kFakeStat =
    "4242 (storage) (api 1) R 1 4242 4242 0 -1 4194560 900 0 0 0 150 50 0 0 20 0 4 0 123456 987654321 2500 "
    "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

constexpr std::string_view kFakeSystemStat =
    "cpu  10 0 10 100 0 0 0 0 0 0\n"
    "cpu0 10 0 10 100 0 0 0 0 0 0\n"
    "intr 12345 1 2 3\n"
    "ctxt 99999\n"
    "btime 1700000000\n"
    "processes 4321\n";

void write_fake_proc(const std::filesystem::path& root, std::string_view self_stat, std::string_view system_stat) {
  write_file(root / "self" / "stat", self_stat);
  write_file(root / "stat", system_stat);
  // Names far above any descriptor the test process holds, so none is mistaken for the listing's own fd.
  for (const char* fd : {"900", "901", "902", "903"}) write_file(root / "self" / "fd" / fd, "");
}

std::string expected_fake_page(double boot_time) {
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page_size = static_cast<double>(::sysconf(_SC_PAGESIZE));
  rlimit limit{};
  EXPECT_EQ(::getrlimit(RLIMIT_NOFILE, &limit), 0);
  return "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
         "# TYPE process_cpu_seconds_total counter\n"
         "process_cpu_seconds_total " + formatted(200 / ticks) + "\n"
         "# HELP process_max_fds Maximum number of open file descriptors.\n"
         "# TYPE process_max_fds gauge\n"
         "process_max_fds " + formatted(static_cast<double>(limit.rlim_cur)) + "\n"
         "# HELP process_open_fds Number of open file descriptors.\n"
         "# TYPE process_open_fds gauge\n"
         "process_open_fds 4\n"
         "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
         "# TYPE process_resident_memory_bytes gauge\n"
         "process_resident_memory_bytes " + formatted(2500 * page_size) + "\n"
         "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
         "# TYPE process_start_time_seconds gauge\n"
         "process_start_time_seconds " + formatted(boot_time + 123456 / ticks) + "\n"
         "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
         "# TYPE process_virtual_memory_bytes gauge\n"
         "process_virtual_memory_bytes 987654321\n";
}

TEST(ProcessCollector, ParsesFakeProcWithParenthesesInComm) {
  const TempDir root;
  ASSERT_FALSE(root.path().empty());
  write_fake_proc(root.path(), kFakeStat, kFakeSystemStat);
  const ProcessCollector collector(root.path().string());
  EXPECT_EQ(render(collector), expected_fake_page(1700000000));
}

TEST(ProcessCollector, FindsBootTimeAfterLinesLongerThanAnyBuffer) {
  struct Case {
    std::string name;
    std::string system_stat;
    std::optional<double> boot_time;
  };
  const std::string long_intr = "intr " + std::string(50000, '1') + "\n";
  const Case cases[] = {
      {"long line before btime", "cpu 1 2 3\n" + long_intr + "btime 1650000000\nprocesses 7\n", 1650000000},
      {"btime without final newline", "cpu 1 2 3\n" + long_intr + "btime 1650000001", 1650000001},
      {"btime first", "btime 1650000002\n" + long_intr, 1650000002},
      {"btime ending a long line is not a line start", "intr 1" + std::string(5000, ' ') + "btime 3\n", std::nullopt},
      {"no btime", "cpu 1 2 3\n" + long_intr + "processes 7\n", std::nullopt},
      {"malformed btime", "btime soon\n", std::nullopt},
      {"empty", "", std::nullopt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const TempDir root;
    ASSERT_FALSE(root.path().empty());
    write_fake_proc(root.path(), kFakeStat, c.system_stat);
    const ProcessCollector collector(root.path().string());
    const std::optional<double> start = value_of(render(collector), "process_start_time_seconds");
    if (c.boot_time) {
      ASSERT_TRUE(start.has_value());
      EXPECT_EQ(*start, *c.boot_time + 123456 / static_cast<double>(::sysconf(_SC_CLK_TCK)));
    } else {
      EXPECT_FALSE(start.has_value());
    }
  }
}

TEST(ProcessCollector, OmitsFamiliesWhoseFieldsAreMissingOrMalformed) {
  struct Case {
    std::string name;
    std::string self_stat;
    std::vector<std::string> present;
  };
  const std::vector<std::string> fd_families = {"process_max_fds", "process_open_fds"};
  const Case cases[] = {
      {"no closing parenthesis", "4242 (storage R 1 4242 4242 0 -1 4194560 900 0 0 0 150 50 0 0 20 0 4 0 1 2 3\n",
       fd_families},
      {"cut off after vsize",
       "4242 (a) R 1 4242 4242 0 -1 4194560 900 0 0 0 150 50 0 0 20 0 4 0 123456 987654321\n",
       {"process_cpu_seconds_total", "process_max_fds", "process_open_fds", "process_start_time_seconds",
        "process_virtual_memory_bytes"}},
      {"non-numeric utime and rss",
       "4242 (a) R 1 4242 4242 0 -1 4194560 900 0 0 0 x 50 0 0 20 0 4 0 123456 987654321 -5 0\n",
       {"process_max_fds", "process_open_fds", "process_start_time_seconds", "process_virtual_memory_bytes"}},
      {"empty", "", fd_families},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const TempDir root;
    ASSERT_FALSE(root.path().empty());
    write_fake_proc(root.path(), c.self_stat, kFakeSystemStat);
    const ProcessCollector collector(root.path().string());
    const std::string page = render(collector);
    std::vector<std::string> names;
    for (const auto& [name, value] : sample_values(page)) names.push_back(name);
    EXPECT_EQ(names, c.present) << page;
  }
}

TEST(ProcessCollector, RendersNothingForAnEmptyProcRoot) {
  const TempDir root;
  ASSERT_FALSE(root.path().empty());
  const ProcessCollector collector(root.path().string());
  EXPECT_EQ(render(collector), "");
}

TEST(ProcessCollector, RendersNothingForAMissingProcRoot) {
  const TempDir root;
  ASSERT_FALSE(root.path().empty());
  const ProcessCollector collector((root.path() / "absent").string());
  EXPECT_EQ(render(collector), "");
}

}  // namespace
}  // namespace metrics
