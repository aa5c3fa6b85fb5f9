#include "app/host_limits.h"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <limits>
#include <memory>
#include <system_error>

#include "base/read_file.h"
#include "base/status.h"
#include "base/text.h"

namespace app {
namespace {

static_assert(sizeof(std::size_t) >= sizeof(std::uint64_t), "cgroup limits are 64-bit byte counts");

// cgroup v1 reports "no limit" as a huge page-aligned value; no real machine has 2^62 bytes.
constexpr std::uint64_t kV1Unlimited = std::uint64_t{1} << 62;

std::optional<std::string> read_small_file(const std::string& path) {
  std::array<char, 8192> buffer;  // cgroup membership and limit files are a few hundred bytes
  const base::Result<std::size_t> size = base::read_whole_file(path.c_str(), buffer);
  if (!size) return std::nullopt;
  return std::string(buffer.data(), *size);
}

std::optional<std::int64_t> parse_signed(std::string_view text) noexcept {
  std::int64_t number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc{} || text.empty() || end != text.data() + text.size()) return std::nullopt;
  return number;
}

std::optional<unsigned> cpus_from_quota(std::int64_t quota, std::int64_t period) noexcept {
  if (quota <= 0 || period <= 0) return std::nullopt;
  const std::int64_t cpus = quota / period + (quota % period != 0 ? 1 : 0);
  return static_cast<unsigned>(std::min<std::int64_t>(cpus, std::numeric_limits<unsigned>::max()));
}

unsigned affinity_cpus() noexcept {
  // Machines with more CPUs than a static cpu_set_t holds need a larger, dynamically sized mask.
  for (int capacity = CPU_SETSIZE; capacity <= (1 << 20); capacity *= 2) {
    const std::unique_ptr<cpu_set_t, void (*)(cpu_set_t*)> mask(CPU_ALLOC(capacity),
                                                                [](cpu_set_t* set) { CPU_FREE(set); });
    if (!mask) break;
    const std::size_t size = CPU_ALLOC_SIZE(capacity);
    CPU_ZERO_S(size, mask.get());
    if (::sched_getaffinity(0, size, mask.get()) == 0) return static_cast<unsigned>(CPU_COUNT_S(size, mask.get()));
    if (errno != EINVAL) break;
  }
  const long online = ::sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? static_cast<unsigned>(online) : 1;
}

std::string without_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// The smallest limit `parse` finds in `file` of the directory `root` + `relative` and each ancestor up to
// `root`. A child cannot use more than any ancestor allows, so the smallest one is what applies.
template <typename T, typename Parse>
std::optional<T> tightest_limit(const std::string& root, const std::string& relative, std::string_view file,
                                Parse parse) {
  std::optional<T> tightest;
  std::string directory = root + relative;
  while (true) {
    directory = without_trailing_slashes(std::move(directory));
    if (const auto contents = read_small_file(directory + "/" + std::string(file))) {
      if (const std::optional<T> limit = parse(*contents); limit && (!tightest || *limit < *tightest)) {
        tightest = limit;
      }
    }
    if (directory.size() <= root.size()) break;
    directory.resize(directory.rfind('/'));
  }
  return tightest;
}

// The same over the process's cgroup v2 directory (or, with a v1 controller, its directory in that
// controller's hierarchy).
template <typename T, typename Parse>
std::optional<T> tightest_process_limit(const CgroupPaths& paths, std::string_view v1_controller,
                                        std::string_view file, Parse parse) {
  std::string root = without_trailing_slashes(paths.mount_point);
  if (!v1_controller.empty()) root.append("/").append(v1_controller);
  std::string relative;
  if (const auto membership = read_small_file(paths.proc_self_cgroup)) {
    relative = cgroup_path(*membership, v1_controller);
  }
  return tightest_limit<T>(root, relative, file, parse);
}

std::optional<unsigned> cgroup_v1_cpus(const CgroupPaths& paths) {
  const std::string mount_point = without_trailing_slashes(paths.mount_point);
  for (const std::string_view controller : {"/cpu", "/cpu,cpuacct"}) {
    const std::string directory = mount_point + std::string(controller);
    const auto quota = read_small_file(directory + "/cpu.cfs_quota_us");
    const auto period = read_small_file(directory + "/cpu.cfs_period_us");
    if (quota && period) return cpus_from_cgroup_cfs(*quota, *period);
  }
  return std::nullopt;
}

bool lists_controller(std::string_view controllers, std::string_view controller) {
  while (!controllers.empty()) {
    const std::size_t comma = controllers.find(',');
    if (controllers.substr(0, comma) == controller) return true;
    controllers.remove_prefix(comma == std::string_view::npos ? controllers.size() : comma + 1);
  }
  return false;
}

}  // namespace

std::string cgroup_path(std::string_view proc_self_cgroup, std::string_view v1_controller) {
  std::string_view path;
  std::string_view rest = proc_self_cgroup;
  while (!rest.empty()) {
    const std::size_t newline = rest.find('\n');
    const std::string_view line = rest.substr(0, newline);
    rest.remove_prefix(newline == std::string_view::npos ? rest.size() : newline + 1);
    // "<hierarchy id>:<controllers>:<path>"; the v2 line is "0::<path>".
    const std::size_t first = line.find(':');
    const std::size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    const std::string_view id = line.substr(0, first);
    const std::string_view controllers = line.substr(first + 1, second - first - 1);
    const bool wanted = v1_controller.empty() ? id == "0" && controllers.empty()
                                              : id != "0" && lists_controller(controllers, v1_controller);
    if (wanted) path = line.substr(second + 1);
  }
  // The path is appended to a mount point: it must stay below it.
  if (!path.starts_with('/') || path.find("..") != std::string_view::npos) return {};
  return std::string(path);
}

std::optional<unsigned> cpus_from_cgroup_cpu_max(std::string_view contents) {
  const std::string_view line = base::trim_whitespace(contents);
  const std::size_t space = line.find(' ');
  const std::string_view quota = line.substr(0, space);
  if (quota == "max") return std::nullopt;
  if (space == std::string_view::npos) return std::nullopt;
  const auto quota_us = parse_signed(quota);
  const auto period_us = parse_signed(base::trim_whitespace(line.substr(space + 1)));
  if (!quota_us || !period_us) return std::nullopt;
  return cpus_from_quota(*quota_us, *period_us);
}

std::optional<unsigned> cpus_from_cgroup_cfs(std::string_view quota_us, std::string_view period_us) {
  const auto quota = parse_signed(base::trim_whitespace(quota_us));
  const auto period = parse_signed(base::trim_whitespace(period_us));
  if (!quota || !period) return std::nullopt;
  return cpus_from_quota(*quota, *period);
}

std::optional<unsigned> detect_cpu_limit(const CgroupPaths& paths) {
  if (auto cpus = tightest_process_limit<unsigned>(paths, "", "cpu.max", cpus_from_cgroup_cpu_max)) return cpus;
  return cgroup_v1_cpus(paths);
}

unsigned usable_cpus() {
  unsigned cpus = affinity_cpus();
  if (const std::optional<unsigned> quota = detect_cpu_limit()) cpus = std::min(cpus, *quota);
  return std::max(cpus, 1u);
}

std::optional<std::size_t> bytes_from_cgroup_memory_max(std::string_view contents) {
  const std::string_view value = base::trim_whitespace(contents);
  if (value == "max") return std::nullopt;
  const std::optional<std::uint64_t> bytes = base::parse_unsigned(value);
  if (!bytes) return std::nullopt;
  return static_cast<std::size_t>(*bytes);
}

std::optional<std::size_t> bytes_from_cgroup_v1_limit(std::string_view contents) {
  const std::optional<std::uint64_t> bytes = base::parse_unsigned(base::trim_whitespace(contents));
  if (!bytes || *bytes >= kV1Unlimited) return std::nullopt;
  return static_cast<std::size_t>(*bytes);
}

std::optional<MemoryLimit> detect_memory_limit(const CgroupPaths& paths) {
  if (const auto bytes =
          tightest_process_limit<std::size_t>(paths, "", "memory.max", bytes_from_cgroup_memory_max)) {
    return MemoryLimit{*bytes, "cgroup v2 memory.max"};
  }
  if (const auto bytes = tightest_process_limit<std::size_t>(paths, "memory", "memory.limit_in_bytes",
                                                             bytes_from_cgroup_v1_limit)) {
    return MemoryLimit{*bytes, "cgroup v1 memory.limit_in_bytes"};
  }
  return std::nullopt;
}

std::size_t value_file_allowance(std::uint64_t descriptor_limit, std::uint64_t max_map_count,
                                 std::size_t reserved_descriptors) noexcept {
  const std::uint64_t descriptors = descriptor_limit > reserved_descriptors ? descriptor_limit - reserved_descriptors : 0;
  const std::uint64_t allowance = std::min(descriptors, max_map_count / 2);
  return static_cast<std::size_t>(std::min<std::uint64_t>(allowance, std::numeric_limits<std::size_t>::max()));
}

std::size_t value_file_allowance(std::size_t reserved_descriptors) {
  rlimit descriptors{};
  if (::getrlimit(RLIMIT_NOFILE, &descriptors) != 0) return 0;
  std::uint64_t max_map_count = 65530;
  if (const std::optional<std::string> contents = read_small_file("/proc/sys/vm/max_map_count")) {
    if (const std::optional<std::uint64_t> parsed = base::parse_unsigned(base::trim_whitespace(*contents))) {
      max_map_count = *parsed;
    }
  }
  const std::uint64_t limit = descriptors.rlim_cur == RLIM_INFINITY ? std::numeric_limits<std::uint64_t>::max()
                                                                     : static_cast<std::uint64_t>(descriptors.rlim_cur);
  return value_file_allowance(limit, max_map_count, reserved_descriptors);
}

}  // namespace app
