#pragma once
// What the host lets this process use: CPUs (affinity mask and cgroup CPU quota) and memory (cgroup memory
// limit). Read once at start-up to size the event loops and the memory budget; nothing here is a setting.
//
// cgroup v2 is preferred: the tightest limit of the process's own cgroup (from /proc/self/cgroup) and every
// ancestor up to the mount point; inside a container with a cgroup namespace that is just the mount point.
// cgroup v1 is the fallback: for memory the same walk in the memory controller's hierarchy (whose top,
// inside a container, is the container's own cgroup), for CPU the cpu controller's top directory.
// Unreadable or malformed files count as "no limit": a missing limit is safer than a wrong one. The parsing
// functions are pure, and the walk takes its paths as a parameter, so both are tested without the real
// /proc and /sys.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace app {

// Where the cgroup files live; the defaults are the real ones.
struct CgroupPaths {
  std::string proc_self_cgroup = "/proc/self/cgroup";
  std::string mount_point = "/sys/fs/cgroup";  // v2 unified hierarchy; v1 controllers below it
};

// Usable CPUs: the affinity mask, further limited by a cgroup v2 cpu.max (or v1 cfs) quota, at least 1.
unsigned usable_cpus();

// The cgroup CPU quota in whole CPUs (rounded up), or nullopt without one.
std::optional<unsigned> detect_cpu_limit(const CgroupPaths& paths = {});

// The CPU limit of a cgroup v2 cpu.max file ("<quota> <period>", quota rounded up to whole CPUs, at least
// 1), or nullopt for "max" (no limit) and unreadable contents.
std::optional<unsigned> cpus_from_cgroup_cpu_max(std::string_view contents);

// The same for cgroup v1 cpu.cfs_quota_us and cpu.cfs_period_us contents; a quota of -1 means no limit.
std::optional<unsigned> cpus_from_cgroup_cfs(std::string_view quota_us, std::string_view period_us);

struct MemoryLimit {
  std::size_t bytes = 0;
  std::string source;  // where it came from, for the log and error messages, e.g. "cgroup v2 memory.max"
};

// The cgroup memory limit of this process: v2 memory.max, else v1 memory/<path>/memory.limit_in_bytes (each the
// tightest of the process's cgroup and its ancestors); nullopt when neither sets a limit.
std::optional<MemoryLimit> detect_memory_limit(const CgroupPaths& paths = {});

// A cgroup v2 memory.max file: a byte count, or nullopt for "max" (no limit) and unreadable contents.
std::optional<std::size_t> bytes_from_cgroup_memory_max(std::string_view contents);

// A cgroup v1 memory.limit_in_bytes file. The kernel reports "unlimited" as the largest page-aligned
// signed value (0x7FFFFFFFFFFFF000), so anything from 2^62 up is no limit (nullopt), as are bad contents.
std::optional<std::size_t> bytes_from_cgroup_v1_limit(std::string_view contents);

// The process's path in a cgroup hierarchy, from /proc/self/cgroup contents: with an empty controller the
// cgroup v2 path (the "0::<path>" line), else the path in the v1 hierarchy of that controller (the line whose
// controller list names it). "" (the mount point itself) without such a line or when the path would climb
// out of the hierarchy.
std::string cgroup_path(std::string_view proc_self_cgroup, std::string_view v1_controller = {});

// How many stored values may live in memory files (base/value_files.h), each holding a descriptor and a
// mapping: what the descriptor limit leaves after `reserved_descriptors` (connections, listeners, the log
// and a margin), and at most half of vm.max_map_count, so that the heap keeps room for its own mappings.
std::size_t value_file_allowance(std::uint64_t descriptor_limit, std::uint64_t max_map_count,
                                 std::size_t reserved_descriptors) noexcept;
// The same from RLIMIT_NOFILE and /proc/sys/vm/max_map_count (65530, the kernel's default, when unreadable).
std::size_t value_file_allowance(std::size_t reserved_descriptors);

}  // namespace app
