// A real full disk under the real binary: DATA_DIR on a small tmpfs mounted for the test. Writes that do not
// fit are answered 507 and leave no trace (not in the store, not after a restart), reads go on, and writes
// succeed again once space is freed. Needs the right to mount (root with CAP_SYS_ADMIN); elsewhere the
// test says it was skipped and why.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "harness.h"
#include "support/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using harness::Client;
using harness::ServerProcess;

class SmallTmpfs {
 public:
  SmallTmpfs(const std::filesystem::path& at, std::size_t bytes) : at_(at) {
    std::filesystem::create_directories(at_);
    const std::string options = "size=" + std::to_string(bytes) + ",mode=0700";
    if (::mount("tmpfs", at_.c_str(), "tmpfs", 0, options.c_str()) == 0) {
      mounted_ = true;
    } else {
      error_ = std::strerror(errno);
    }
  }
  ~SmallTmpfs() {
    if (mounted_) ::umount2(at_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

 private:
  std::filesystem::path at_;
  bool mounted_ = false;
  std::string error_;
};

TEST(DurableFullDiskTest, WritesThatDoNotFitAre507AndLeaveNoTraceAndWritesResumeWithSpace) {
  test_support::TempDir dir;
  const std::filesystem::path mount_point = dir.path() / "small";
  SmallTmpfs disk(mount_point, 4 << 20);
  if (!disk.mounted()) {
    GTEST_SKIP() << "SKIPPED LOUDLY: cannot mount a 4 MiB tmpfs (" << disk.error()
                 << "): the full-disk test needs root with CAP_SYS_ADMIN; the same behaviour is tested "
                    "in-process with the fault injection file system (tests/app/durable_writes_test.cpp)";
  }
  // Room that can be given back later, as an operator deleting something would.
  const std::filesystem::path filler = mount_point / "filler";
  std::ofstream(filler, std::ios::binary) << std::string(1 << 20, 'f');
  const std::filesystem::path data = mount_point / "data";
  const std::vector<std::pair<std::string, std::string>> env{{"DATA_DIR", data.string()}, {"FSYNC", "always"}};

  const std::string value(256 << 10, 'v');
  std::vector<std::string> stored;
  std::string refused_id;
  {
    ServerProcess server({}, env);
    Client c(server.port());
    for (int i = 0; i < 64 && refused_id.empty(); ++i) {
      const std::string id = "object-" + std::to_string(i);
      const auto answer = c.request("PUT", "/api/buckets/" + id, value);
      ASSERT_TRUE(answer);
      if (answer->status == 200) {
        stored.push_back(id);
      } else {
        ASSERT_EQ(answer->status, 507) << answer->body;
        EXPECT_NE(answer->body.find("error"), std::string::npos) << "a JSON error body";
        refused_id = id;
      }
    }
    ASSERT_FALSE(refused_id.empty()) << "the 4 MiB disk never filled";
    ASSERT_FALSE(stored.empty());
    // Reads go on; the refused write left nothing behind.
    EXPECT_EQ(c.request("GET", "/api/buckets/" + stored.front())->body, value);
    EXPECT_EQ(c.request("GET", "/api/buckets/" + refused_id)->status, 404);
    const std::string metrics = harness::scrape(server.port());
    EXPECT_GE(harness::metric_value(metrics, "storage_api_log_errors_total{kind=\"no_space\"}").value_or(0), 1);
    EXPECT_EQ(harness::metric_value(metrics, "storage_api_log_failed"), 0) << "a full disk does not fail the log";

    std::filesystem::remove(filler);
    const auto again = c.request("PUT", "/api/buckets/" + refused_id, value);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 200) << "writes succeed again once there is room";
    stored.push_back(refused_id);
    server.signal(SIGTERM);
    EXPECT_EQ(server.wait_exit(), 0);
  }
  ServerProcess server({}, env);
  ASSERT_TRUE(server.wait_for_log("\"event\":\"recovered\""));
  Client c(server.port());
  for (const std::string& id : stored) EXPECT_EQ(c.request("GET", "/api/buckets/" + id)->body, value) << id;
  EXPECT_EQ(harness::metric_value(harness::scrape(server.port()), "storage_api_buckets"),
            static_cast<double>(stored.size()));
}

}  // namespace
