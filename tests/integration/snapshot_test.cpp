// Snapshots with the real binary: past SNAPSHOT_MIN_BYTES of log the service snapshots and deletes the
// segments it covers, a restart loads the snapshot and everything is there; a SIGKILL while snapshots run
// under write load loses nothing acknowledged.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "harness.h"
#include "support/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using harness::Client;
using harness::ServerProcess;

std::string value_for(const std::string& id, int version, std::size_t size) {
  std::string value(size, '\0');
  std::mt19937 random(static_cast<unsigned>(std::hash<std::string>{}(id) + static_cast<std::size_t>(version)));
  for (char& c : value) c = static_cast<char>(random());
  return value;
}

std::vector<std::string> names_in(const std::filesystem::path& directory, std::string_view prefix) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

double snapshots_ok(std::uint16_t port) {
  return harness::metric_value(harness::scrape(port), "storage_api_snapshots_total{result=\"ok\"}").value_or(-1);
}

class SnapshotTest : public ::testing::Test {
 protected:
  std::vector<std::pair<std::string, std::string>> env(std::string min_bytes, std::string ratio = "2") const {
    return {{"DATA_DIR", data_dir()}, {"FSYNC", "always"}, {"SNAPSHOT_MIN_BYTES", std::move(min_bytes)},
            {"SNAPSHOT_RATIO", std::move(ratio)}};
  }
  std::string data_dir() const { return (dir_.path() / "data").string(); }

  test_support::TempDir dir_;
};

TEST_F(SnapshotTest, SnapshotsReplaceTheLogAndARestartLoadsThem) {
  std::map<std::string, std::string> latest;
  {
    ServerProcess server({}, env("1MiB"));
    Client c(server.port());
    // 40 ids of 16 KiB, rewritten: the live set stays at 640 KiB while the log grows past the threshold,
    // max(1 MiB, 2 x the stored bytes); then the snapshotter (checking every second) must take a snapshot.
    // Writing stops once the log is past the threshold, so a fast disk cannot outrun the check.
    int version = 0;
    for (int wanted = 1; wanted <= 2; ++wanted) {
      for (;; ++version) {
        const std::string metrics = harness::scrape(server.port());
        const double since = harness::metric_value(metrics, "storage_api_log_bytes_since_snapshot").value_or(0);
        const double stored = harness::metric_value(metrics, "storage_api_stored_bytes").value_or(0);
        if (since > std::max(double{1 << 20}, 2 * stored) + (64 << 10)) break;
        ASSERT_LT(version, 400) << "the log never passed the threshold";
        for (int i = 0; i < 40; ++i) {
          const std::string id = "obj-" + std::to_string(i);
          latest[id] = value_for(id, version, 16 << 10);
          ASSERT_EQ(c.request("PUT", "/api/buckets/" + id, latest[id])->status, 200);
        }
        ASSERT_EQ(c.request("DELETE", "/api/buckets/gone-" + std::to_string(version))->status, 400);
      }
      ASSERT_TRUE(harness::eventually([&] { return snapshots_ok(server.port()) >= wanted; }, 60000ms))
          << "no snapshot " << wanted << " past the threshold";
    }
    ASSERT_TRUE(server.wait_for_log("\"event\":\"snapshot\""));
    ASSERT_EQ(c.request("PUT", "/api/buckets/last", "after the snapshots")->status, 200);
    latest["last"] = "after the snapshots";
    const std::string metrics = harness::scrape(server.port());
    EXPECT_GT(harness::metric_value(metrics, "storage_api_snapshot_bytes").value_or(0), 640 << 10) << metrics;
    EXPECT_GT(harness::metric_value(metrics, "storage_api_snapshot_last_success_timestamp_seconds").value_or(0), 0);
    EXPECT_LT(harness::metric_value(metrics, "storage_api_log_bytes_since_snapshot").value_or(1e18), 3 << 20);
    server.signal(SIGTERM);
    ASSERT_EQ(server.wait_exit(), 0);
  }
  // One snapshot, and only the segments after it.
  const std::vector<std::string> snapshots = names_in(data_dir(), "snapshot-");
  ASSERT_EQ(snapshots.size(), 1u);
  const std::vector<std::string> segments = names_in(data_dir(), "segment-");
  ASSERT_FALSE(segments.empty());
  EXPECT_GE(segments.front().substr(8, 20), snapshots.front().substr(9, 20)) << "a covered segment survived";
  EXPECT_NE(segments.front(), "segment-00000000000000000001.log");

  ServerProcess server({}, env("1MiB"));
  const auto recovered = server.wait_for_log("\"event\":\"recovered\"");
  ASSERT_TRUE(recovered);
  EXPECT_NE(recovered->find(snapshots.front()), std::string::npos) << *recovered;
  EXPECT_NE(recovered->find("\"snapshot_objects\":40"), std::string::npos) << *recovered;
  EXPECT_NE(recovered->find("\"objects\":41"), std::string::npos) << *recovered;
  Client c(server.port());
  for (const auto& [id, value] : latest) {
    const auto got = c.request("GET", "/api/buckets/" + id);
    ASSERT_EQ(got->status, 200) << id;
    EXPECT_TRUE(got->body == value) << id << " differs after the restart";
  }
}

// Writers on their own ids, one request at a time, so each id's last acknowledged state and its one
// unanswered write (if any) are known exactly when the SIGKILL comes (as in durable_test.cpp).
struct IdHistory {
  std::optional<std::string> acknowledged;
  bool acknowledged_known = false;
  std::optional<std::optional<std::string>> in_flight;
};

void hammer(std::uint16_t port, int writer, std::atomic<bool>& stop, std::atomic<int>& acks,
            std::map<std::string, IdHistory>& histories, std::mutex& mutex) {
  Client c(port, 5000ms);
  std::mt19937 random(static_cast<unsigned>(writer));
  for (int version = 0; !stop.load(); ++version) {
    const std::string id = "w" + std::to_string(writer) + "-" + std::to_string(random() % 16);
    const bool erase = random() % 5 == 0;
    const std::string value = value_for(id, version, random() % 3 == 0 ? 40000 : 300);
    {
      std::lock_guard lock(mutex);
      histories[id].in_flight = erase ? std::optional<std::string>() : std::optional<std::string>(value);
    }
    const auto answer = erase ? c.request("DELETE", "/api/buckets/" + id) : c.request("PUT", "/api/buckets/" + id, value);
    if (!answer) return;  // the server is gone: this write stays in flight
    std::lock_guard lock(mutex);
    IdHistory& history = histories[id];
    if (answer->status == 200 || (erase && answer->status == 400)) {
      history.acknowledged = erase ? std::nullopt : std::optional<std::string>(value);
      history.acknowledged_known = true;
      acks.fetch_add(1);
    } else {
      ADD_FAILURE() << "unexpected status " << answer->status;
      return;
    }
    history.in_flight.reset();
  }
}

TEST_F(SnapshotTest, NothingAcknowledgedIsLostToASigkillWhileSnapshotsRun) {
  std::map<std::string, IdHistory> histories;
  std::mutex mutex;
  {
    ServerProcess server({}, env("256KiB", "0.5"));
    std::atomic<bool> stop{false};
    std::atomic<int> acks{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < 6; ++w) {
      writers.emplace_back(hammer, server.port(), w, std::ref(stop), std::ref(acks), std::ref(histories),
                           std::ref(mutex));
    }
    // Snapshots come and go under the load; the kill lands at some point of one or between two.
    ASSERT_TRUE(harness::eventually([&] { return snapshots_ok(server.port()) >= 3 && acks.load() >= 600; }, 120000ms));
    server.signal(SIGKILL);
    stop.store(true);
    for (std::thread& t : writers) t.join();
  }
  ServerProcess server({}, env("256KiB", "0.5"));
  const auto recovered = server.wait_for_log("\"event\":\"recovered\"", 20000ms);
  ASSERT_TRUE(recovered);
  EXPECT_NE(recovered->find(".snap\""), std::string::npos) << *recovered;
  Client c(server.port());
  std::size_t checked = 0;
  for (const auto& [id, history] : histories) {
    if (!history.acknowledged_known && !history.in_flight) continue;
    const auto got = c.request("GET", "/api/buckets/" + id);
    ASSERT_TRUE(got);
    ASSERT_TRUE(got->status == 200 || got->status == 404) << got->status;
    const std::optional<std::string> found =
        got->status == 200 ? std::optional<std::string>(got->body) : std::optional<std::string>();
    const bool is_acknowledged = history.acknowledged_known && found == history.acknowledged;
    const bool is_in_flight = history.in_flight && found == *history.in_flight;
    const bool never_acknowledged = !history.acknowledged_known && !found;
    EXPECT_TRUE(is_acknowledged || is_in_flight || never_acknowledged) << id << " lost its acknowledged state";
    ++checked;
  }
  EXPECT_GE(checked, 48u);
}

}  // namespace
