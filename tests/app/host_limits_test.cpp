#include "app/host_limits.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "support/temp_dir.h"

namespace app {
namespace {

TEST(CgroupCpus, CpuMax) {
  struct Case {
    std::string_view contents;
    std::optional<unsigned> cpus;
  };
  const Case cases[] = {
      {"max 100000\n", std::nullopt},
      {"max", std::nullopt},
      {"200000 100000\n", 2u},
      {"150000 100000\n", 2u},
      {"100001 100000", 2u},
      {"50000 100000\n", 1u},
      {"1000 100000\n", 1u},
      {"400000 100000", 4u},
      {"  300000 100000  \n", 3u},
      {"", std::nullopt},
      {"\n", std::nullopt},
      {"100000", std::nullopt},
      {"abc 100000", std::nullopt},
      {"100000 0", std::nullopt},
      {"-1 100000", std::nullopt},
      {"100000 x", std::nullopt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::PrintToString(std::string(c.contents)));
    EXPECT_EQ(cpus_from_cgroup_cpu_max(c.contents), c.cpus);
  }
}

TEST(CgroupCpus, CfsQuotaAndPeriod) {
  struct Case {
    std::string_view quota;
    std::string_view period;
    std::optional<unsigned> cpus;
  };
  const Case cases[] = {
      {"-1\n", "100000\n", std::nullopt},
      {"200000\n", "100000\n", 2u},
      {"250000", "100000", 3u},
      {"50000\n", "100000\n", 1u},
      {"100000\n", "0\n", std::nullopt},
      {"", "100000", std::nullopt},
      {"x", "100000", std::nullopt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.quota) + "/" + std::string(c.period));
    EXPECT_EQ(cpus_from_cgroup_cfs(c.quota, c.period), c.cpus);
  }
}

TEST(UsableCpus, AtLeastOneAndAtMostTheOnlineCpus) {
  const unsigned cpus = usable_cpus();
  EXPECT_GE(cpus, 1u);
  const unsigned online = std::thread::hardware_concurrency();
  if (online > 0) {
    EXPECT_LE(cpus, online);
  }
}

TEST(CgroupMemory, MemoryMax) {
  struct Case {
    std::string_view contents;
    std::optional<std::size_t> bytes;
  };
  const Case cases[] = {
      {"max\n", std::nullopt},
      {"max", std::nullopt},
      {"469762048\n", std::size_t{448} << 20},
      {"  536870912  \n", std::size_t{512} << 20},
      {"0\n", 0u},
      {"9223372036854771712\n", std::size_t{9223372036854771712u}},
      {"", std::nullopt},
      {"\n", std::nullopt},
      {"-1", std::nullopt},
      {"512M", std::nullopt},
      {"1 2", std::nullopt},
      {"maximum", std::nullopt},
      {"18446744073709551616", std::nullopt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::PrintToString(std::string(c.contents)));
    EXPECT_EQ(bytes_from_cgroup_memory_max(c.contents), c.bytes);
  }
}

TEST(CgroupMemory, V1LimitInBytesTreatsHugeValuesAsUnlimited) {
  struct Case {
    std::string_view contents;
    std::optional<std::size_t> bytes;
  };
  const Case cases[] = {
      {"9223372036854771712\n", std::nullopt},  // 0x7FFFFFFFFFFFF000: the kernel's "unlimited"
      {"4611686018427387904\n", std::nullopt},  // 2^62
      {"4611686018427387903\n", std::size_t{4611686018427387903u}},
      {"469762048\n", std::size_t{448} << 20},
      {"1073741824", std::size_t{1} << 30},
      {"", std::nullopt},
      {"-1\n", std::nullopt},
      {"max\n", std::nullopt},
      {"1G", std::nullopt},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::PrintToString(std::string(c.contents)));
    EXPECT_EQ(bytes_from_cgroup_v1_limit(c.contents), c.bytes);
  }
}

TEST(CgroupPath, TheUnifiedHierarchyLine) {
  EXPECT_EQ(cgroup_path("0::/\n"), "/");
  EXPECT_EQ(cgroup_path("0::/kubepods/pod1/ctr\n"), "/kubepods/pod1/ctr");
  EXPECT_EQ(cgroup_path("12:memory:/docker/abc\n11:cpu,cpuacct:/docker/abc\n0::/system.slice/x.service\n"),
            "/system.slice/x.service");
  EXPECT_EQ(cgroup_path("12:memory:/docker/abc\n1:name=systemd:/docker/abc\n"), "");  // v1 only
  EXPECT_EQ(cgroup_path(""), "");
  EXPECT_EQ(cgroup_path("0::/../../etc\n"), "");  // must not climb out of the mount point
  EXPECT_EQ(cgroup_path("0::relative\n"), "");
  EXPECT_EQ(cgroup_path("0::/a:b\n"), "/a:b");  // a colon in the path is part of it
}

TEST(CgroupPath, AV1ControllersLine) {
  const std::string_view file =
      "9:name=systemd:/\n4:memory:/process_api/4fec\n2:cpu,cpuacct:/other\n0::/\n";
  EXPECT_EQ(cgroup_path(file, "memory"), "/process_api/4fec");
  EXPECT_EQ(cgroup_path(file, "cpuacct"), "/other");
  EXPECT_EQ(cgroup_path(file, "cpu"), "/other");
  EXPECT_EQ(cgroup_path(file, "mem"), "");
  EXPECT_EQ(cgroup_path("0::/x\n", "memory"), "");
  EXPECT_EQ(cgroup_path("4:memory:/../x\n", "memory"), "");
}

// A cgroup hierarchy under a temporary directory, laid out like /proc/self/cgroup and /sys/fs/cgroup.
class FakeCgroups : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    paths_.proc_self_cgroup = (dir_.path() / "proc_self_cgroup").string();
    paths_.mount_point = (dir_.path() / "cgroup").string();
    std::filesystem::create_directories(dir_.path() / "cgroup");
  }
  void write(const std::string& relative, std::string_view contents) {
    const std::filesystem::path file = relative == "proc_self_cgroup" ? std::filesystem::path(paths_.proc_self_cgroup)
                                                                      : dir_.path() / "cgroup" / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file) << contents;
  }

  test_support::TempDir dir_;
  CgroupPaths paths_;
};

TEST_F(FakeCgroups, NoFilesMeansNoLimits) {
  EXPECT_EQ(detect_memory_limit(paths_), std::nullopt);
  EXPECT_EQ(detect_cpu_limit(paths_), std::nullopt);
}

TEST_F(FakeCgroups, V2TightestOfTheCgroupAndItsAncestors) {
  write("proc_self_cgroup", "0::/kubepods/pod1/ctr\n");
  write("kubepods/memory.max", "1073741824\n");
  write("kubepods/pod1/memory.max", "536870912\n");
  write("kubepods/pod1/ctr/memory.max", "max\n");
  write("kubepods/cpu.max", "400000 100000\n");
  write("kubepods/pod1/ctr/cpu.max", "150000 100000\n");
  const std::optional<MemoryLimit> memory = detect_memory_limit(paths_);
  ASSERT_TRUE(memory);
  EXPECT_EQ(memory->bytes, std::size_t{512} << 20);
  EXPECT_EQ(memory->source, "cgroup v2 memory.max");
  EXPECT_EQ(detect_cpu_limit(paths_), 2u);

  // The container's own limit, when tighter, wins over its ancestors'.
  write("kubepods/pod1/ctr/memory.max", "469762048\n");
  EXPECT_EQ(detect_memory_limit(paths_)->bytes, std::size_t{448} << 20);
}

TEST_F(FakeCgroups, V2InsideACgroupNamespaceReadsTheMountPoint) {
  write("proc_self_cgroup", "0::/\n");
  write("memory.max", "469762048\n");
  const std::optional<MemoryLimit> memory = detect_memory_limit(paths_);
  ASSERT_TRUE(memory);
  EXPECT_EQ(memory->bytes, std::size_t{448} << 20);
  // The same when the process's path is not visible below the mount point (no cgroup namespace).
  write("proc_self_cgroup", "0::/docker/0123abcd\n");
  EXPECT_EQ(detect_memory_limit(paths_)->bytes, std::size_t{448} << 20);
}

TEST_F(FakeCgroups, V2MalformedFilesAreSkipped) {
  write("proc_self_cgroup", "0::/a/b\n");
  write("a/memory.max", "garbage\n");
  write("a/b/memory.max", "268435456\n");
  EXPECT_EQ(detect_memory_limit(paths_)->bytes, std::size_t{256} << 20);
}

TEST_F(FakeCgroups, V1WhenV2SetsNoLimit) {
  write("proc_self_cgroup", "0::/\n12:memory:/\n");
  write("memory.max", "max\n");
  write("memory/memory.limit_in_bytes", "805306368\n");
  write("cpu,cpuacct/cpu.cfs_quota_us", "250000\n");
  write("cpu,cpuacct/cpu.cfs_period_us", "100000\n");
  const std::optional<MemoryLimit> memory = detect_memory_limit(paths_);
  ASSERT_TRUE(memory);
  EXPECT_EQ(memory->bytes, std::size_t{768} << 20);
  EXPECT_EQ(memory->source, "cgroup v1 memory.limit_in_bytes");
  EXPECT_EQ(detect_cpu_limit(paths_), 3u);
}

TEST_F(FakeCgroups, V1TightestOfTheCgroupAndItsAncestors) {
  // A v1 host without cgroup namespaces: the hierarchy's top is the host's, the process sits below it.
  write("proc_self_cgroup", "4:memory:/process_api/4fec\n1:cpu:/\n0::/\n");
  write("memory/memory.limit_in_bytes", "9223372036854771712\n");
  write("memory/process_api/memory.limit_in_bytes", "2147483648\n");
  write("memory/process_api/4fec/memory.limit_in_bytes", "1073741824\n");
  EXPECT_EQ(detect_memory_limit(paths_)->bytes, std::size_t{1} << 30);
  write("memory/process_api/4fec/memory.limit_in_bytes", "9223372036854771712\n");
  EXPECT_EQ(detect_memory_limit(paths_)->bytes, std::size_t{2} << 30);
}

TEST_F(FakeCgroups, V1UnlimitedIsNoLimit) {
  write("memory/memory.limit_in_bytes", "9223372036854771712\n");
  EXPECT_EQ(detect_memory_limit(paths_), std::nullopt);
}

TEST(DetectMemoryLimit, TheRealHostGivesAPlausibleAnswer) {
  // Whatever this machine runs under: either no limit, or one with a source and at least a page.
  const std::optional<MemoryLimit> limit = detect_memory_limit();
  if (limit) {
    EXPECT_GE(limit->bytes, 4096u);
    EXPECT_TRUE(limit->source == "cgroup v2 memory.max" || limit->source == "cgroup v1 memory.limit_in_bytes")
        << limit->source;
  }
}

TEST(ValueFileAllowance, IsWhatDescriptorsLeaveAndAtMostHalfTheMappings) {
  EXPECT_EQ(value_file_allowance(1024, 65530, 300), 724u);
  EXPECT_EQ(value_file_allowance(1 << 20, 65530, 300), 32765u) << "vm.max_map_count bounds a high descriptor limit";
  EXPECT_EQ(value_file_allowance(256, 65530, 300), 0u) << "no descriptors left: every value stays on the heap";
  EXPECT_EQ(value_file_allowance(1024, 0, 300), 0u);
}

}  // namespace
}  // namespace app
