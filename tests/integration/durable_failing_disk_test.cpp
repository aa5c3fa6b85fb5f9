// A real failing disk under the real binary: DATA_DIR on ext4 on a loop device whose backing file lives on a
// small tmpfs. Once that tmpfs is full, the loop device cannot write what ext4 hands it, and the log's
// fdatasync fails with an I/O error. The write it covered must be answered 503, the process must log one
// log_failed line and exit non-zero, and after space returns the acknowledged objects are all there. Needs
// root with the right to mount and a loop device, and mkfs.ext4; elsewhere the test says it was skipped.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mount.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
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

int run(const std::string& command) { return std::system((command + " >/dev/null 2>&1").c_str()); }

std::string output_of(const std::string& command) {
  std::string out;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char buffer[256];
    while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) out += buffer;
    ::pclose(pipe);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// The stack, torn down in reverse: a tmpfs holding a sparse image, a loop device on it, ext4 on that.
class FailingDisk {
 public:
  explicit FailingDisk(const std::filesystem::path& root) : host_(root / "host"), mount_(root / "ext4") {
    std::filesystem::create_directories(host_);
    std::filesystem::create_directories(mount_);
    if (::mount("tmpfs", host_.c_str(), "tmpfs", 0, "size=24m") != 0) {
      why_ = std::string("cannot mount a tmpfs: ") + std::strerror(errno);
      return;
    }
    host_mounted_ = true;
    const std::string image = (host_ / "disk.img").string();
    if (run("truncate -s 256M " + image) != 0 || run("mkfs.ext4 -q -F -E nodiscard -O ^has_journal " + image) != 0) {
      why_ = "cannot make an ext4 image (mkfs.ext4)";
      return;
    }
    loop_ = output_of("losetup -f --show " + image + " 2>/dev/null");
    if (loop_.rfind("/dev/loop", 0) != 0) {
      why_ = "no loop device (losetup)";
      loop_.clear();
      return;
    }
    if (::mount(loop_.c_str(), mount_.c_str(), "ext4", 0, "errors=continue") != 0) {
      why_ = std::string("cannot mount ext4 on ") + loop_ + ": " + std::strerror(errno);
      return;
    }
    ext4_mounted_ = true;
  }
  ~FailingDisk() {
    if (ext4_mounted_) ::umount2(mount_.c_str(), MNT_DETACH);
    if (!loop_.empty()) run("losetup -d " + loop_);
    if (host_mounted_) ::umount2(host_.c_str(), MNT_DETACH);
  }
  bool ready() const { return ext4_mounted_; }
  const std::string& why() const { return why_; }
  std::filesystem::path data_dir() const { return mount_ / "data"; }
  // Fills the tmpfs under the image: from now on the loop device cannot store new blocks.
  void fill_host() { run("dd if=/dev/zero of=" + (host_ / "filler").string() + " bs=1M"); }
  void free_host() { std::filesystem::remove(host_ / "filler"); }

 private:
  std::filesystem::path host_;
  std::filesystem::path mount_;
  std::string loop_;
  std::string why_;
  bool host_mounted_ = false;
  bool ext4_mounted_ = false;
};

TEST(DurableFailingDiskTest, AFailedFdatasyncAnswers503LogsOnceAndExitsNonZeroLosingNothingAcknowledged) {
  test_support::TempDir dir;
  FailingDisk disk(dir.path());
  if (!disk.ready()) {
    GTEST_SKIP() << "SKIPPED LOUDLY: " << disk.why()
                 << ": the failing-disk test needs root, mount, a loop device and mkfs.ext4; a failed fdatasync is "
                    "also tested in-process (tests/app/durable_writes_test.cpp)";
  }
  const std::vector<std::pair<std::string, std::string>> env{{"DATA_DIR", disk.data_dir().string()},
                                                             {"FSYNC", "always"}};
  const std::string kept(64 << 10, 'k');
  {
    ServerProcess server({}, env);
    Client c(server.port());
    ASSERT_EQ(c.request("PUT", "/api/buckets/kept", kept)->status, 200);
    disk.fill_host();
    // Enough new blocks that ext4 must hand the loop device writes it cannot store.
    const std::string lost(8 << 20, 'l');
    const auto answer = c.request("PUT", "/api/buckets/lost", lost);
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status, 503) << "a write whose fdatasync failed is never acknowledged";
    EXPECT_NE(answer->body.find("error"), std::string::npos);
    const std::optional<int> exit_code = server.wait_exit(30000ms);
    ASSERT_TRUE(exit_code.has_value()) << "the process must end after the log failed";
    EXPECT_NE(*exit_code, 0);
    const std::vector<std::string> lines = server.log_lines();
    const auto failed = [](const std::string& l) { return l.find("\"event\":\"log_failed\"") != std::string::npos; };
    EXPECT_EQ(std::count_if(lines.begin(), lines.end(), failed), 1) << "one log_failed line";
    const auto line = std::find_if(lines.begin(), lines.end(), failed);
    ASSERT_NE(line, lines.end());
    EXPECT_NE(line->find("fdatasync"), std::string::npos) << "the disk failed the sync, not the write: " << *line;
  }
  disk.free_host();
  ServerProcess server({}, env);
  ASSERT_TRUE(server.wait_for_log("\"event\":\"recovered\"", 20000ms));
  EXPECT_EQ(Client(server.port()).request("GET", "/api/buckets/kept")->body, kept) << "the acknowledged object";
}

}  // namespace
