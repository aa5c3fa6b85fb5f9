// DATA_DIR with the real binary: what was acknowledged survives a clean restart and a SIGKILL under load,
// the directory is locked against a second process, a torn tail is truncated and counted, and damage in
// the middle of the log stops the start (exit 1, naming the file and offset) unless --repair is given.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
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

std::vector<std::filesystem::path> segments_in(const std::filesystem::path& directory) {
  std::vector<std::filesystem::path> segments;
  for (const auto& entry : std::filesystem::directory_iterator(directory)) {
    if (entry.path().filename().string().rfind("segment-", 0) == 0) segments.push_back(entry.path());
  }
  std::sort(segments.begin(), segments.end());
  return segments;
}

class DurableTest : public ::testing::Test {
 protected:
  std::vector<std::pair<std::string, std::string>> env(std::string fsync = "always") const {
    return {{"DATA_DIR", data_dir()}, {"FSYNC", std::move(fsync)}};
  }
  std::string data_dir() const { return (dir_.path() / "data").string(); }

  test_support::TempDir dir_;
};

TEST_F(DurableTest, AcknowledgedObjectsSurviveARestartWithTheirMetadata) {
  const std::string large = value_for("large", 1, 3 << 20);
  std::string etag_small, modified_small, etag_large;
  {
    ServerProcess server({}, env());
    Client c(server.port());
    const auto small = c.request("PUT", "/api/buckets/small", "hello", "Content-Type: text/plain\r\n");
    ASSERT_TRUE(small);
    ASSERT_EQ(small->status, 200);
    etag_small = small->header("etag");
    modified_small = small->header("last-modified");
    EXPECT_FALSE(etag_small.empty());
    const auto big = c.request("PUT", "/api/buckets/large", large);
    ASSERT_EQ(big->status, 200);
    etag_large = big->header("etag");
    ASSERT_EQ(c.request("PUT", "/api/buckets/gone", "soon deleted")->status, 200);
    ASSERT_EQ(c.request("DELETE", "/api/buckets/gone")->status, 200);
    ASSERT_EQ(c.request("PUT", "/api/buckets/replaced", "first")->status, 200);
    ASSERT_EQ(c.request("PUT", "/api/buckets/replaced", "second")->status, 200);
    const std::string metrics = harness::scrape(server.port());
    EXPECT_EQ(harness::metric_value(metrics, "storage_api_log_records_total"), 6);
    server.signal(SIGTERM);
    EXPECT_EQ(server.wait_exit(), 0);
  }
  ServerProcess server({}, env());
  const auto recovered = server.wait_for_log("\"event\":\"recovered\"");
  ASSERT_TRUE(recovered);
  EXPECT_NE(recovered->find("\"puts\":5"), std::string::npos) << *recovered;
  EXPECT_NE(recovered->find("\"deletes\":1"), std::string::npos) << *recovered;
  EXPECT_NE(recovered->find("\"objects\":3"), std::string::npos) << *recovered;
  Client c(server.port());
  const auto small = c.request("GET", "/api/buckets/small");
  EXPECT_EQ(small->status, 200);
  EXPECT_EQ(small->body, "hello");
  EXPECT_EQ(small->header("etag"), etag_small);
  EXPECT_EQ(small->header("last-modified"), modified_small);
  EXPECT_EQ(small->header("content-type"), "text/plain");
  const auto big = c.request("GET", "/api/buckets/large");
  EXPECT_EQ(big->status, 200);
  EXPECT_TRUE(big->body == large) << "the large value differs after the restart";
  EXPECT_EQ(big->header("etag"), etag_large);
  EXPECT_EQ(c.request("GET", "/api/buckets/gone")->status, 404);
  EXPECT_EQ(c.request("GET", "/api/buckets/replaced")->body, "second");
  // A new segment for the new process: the old one is never appended to again.
  EXPECT_EQ(segments_in(data_dir()).size(), 2u);
  const std::string metrics = harness::scrape(server.port());
  EXPECT_EQ(harness::metric_value(metrics, "storage_api_recovery_records"), 6);
  EXPECT_EQ(harness::metric_value(metrics, "storage_api_log_truncated_tails_total"), 0);
  EXPECT_EQ(harness::metric_value(metrics, "storage_api_log_segments"), 2);
  std::uintmax_t on_disk = 0;
  for (const auto& segment : segments_in(data_dir())) on_disk += std::filesystem::file_size(segment);
  EXPECT_EQ(harness::metric_value(metrics, "storage_api_log_bytes"), static_cast<double>(on_disk));
}

// Writers on their own ids, one request at a time, so each id's last acknowledged state and its one
// unanswered write (if any) are known exactly when the SIGKILL comes.
struct IdHistory {
  std::optional<std::string> acknowledged;  // the value, or nullopt for "absent"
  bool acknowledged_known = false;
  std::optional<std::optional<std::string>> in_flight;
};

void hammer(std::uint16_t port, int writer, int round, std::atomic<bool>& stop, std::atomic<int>& acks,
            std::map<std::string, IdHistory>& histories, std::mutex& mutex) {
  Client c(port, 2000ms);
  std::mt19937 random(static_cast<unsigned>(writer * 1000 + round));
  // Versions never repeat across rounds, so every value written is unique.
  for (int version = round * 1000000; !stop.load(); ++version) {
    const std::string id = "w" + std::to_string(writer) + "-" + std::to_string(random() % 8);
    const bool erase = random() % 4 == 0;
    const std::string value = value_for(id, version, random() % 3 == 0 ? 40000 : 100);
    {
      std::lock_guard lock(mutex);
      histories[id].in_flight = erase ? std::optional<std::string>() : std::optional<std::string>(value);
    }
    const auto answer = erase ? c.request("DELETE", "/api/buckets/" + id) : c.request("PUT", "/api/buckets/" + id, value);
    if (!answer) return;  // the server is gone: this write stays in flight
    std::lock_guard lock(mutex);
    IdHistory& history = histories[id];
    if (answer->status == 200) {
      history.acknowledged = erase ? std::nullopt : std::optional<std::string>(value);
      history.acknowledged_known = true;
      acks.fetch_add(1);
    } else if (erase && answer->status == 400) {
      history.acknowledged = std::nullopt;  // it was absent already
      history.acknowledged_known = true;
    } else {
      ADD_FAILURE() << "unexpected status " << answer->status;
      return;
    }
    history.in_flight.reset();
  }
}

// Checks every id against its history, then takes what the restarted store shows as the id's durable state.
void check_and_settle(std::uint16_t port, std::map<std::string, IdHistory>& histories) {
  Client c(port);
  std::size_t checked = 0;
  for (auto& [id, history] : histories) {
    if (!history.acknowledged_known && !history.in_flight) continue;
    const auto got = c.request("GET", "/api/buckets/" + id);
    ASSERT_TRUE(got);
    ASSERT_TRUE(got->status == 200 || got->status == 404) << got->status;
    const std::optional<std::string> found =
        got->status == 200 ? std::optional<std::string>(got->body) : std::optional<std::string>();
    const bool is_acknowledged = history.acknowledged_known && found == history.acknowledged;
    const bool is_in_flight = history.in_flight && found == *history.in_flight;
    // Before the id's first acknowledgement it may also still be absent.
    const bool never_acknowledged = !history.acknowledged_known && !found;
    EXPECT_TRUE(is_acknowledged || is_in_flight || never_acknowledged) << id << " lost its acknowledged state";
    history.acknowledged = found;  // recovered from the log: durable now, whichever it was
    history.acknowledged_known = true;
    history.in_flight.reset();
    ++checked;
  }
  EXPECT_GE(checked, 6u);
}

// Rounds of six writers on one DATA_DIR, each round SIGKILLed after a different number of acknowledgements;
// with a small snapshot threshold, snapshots run (and are cut) during the load too.
TEST_F(DurableTest, NothingAcknowledgedIsLostToRepeatedSigkillsUnderLoad) {
  std::map<std::string, IdHistory> histories;
  std::mutex mutex;
  std::vector<std::pair<std::string, std::string>> settings = env();
  settings.emplace_back("SNAPSHOT_MIN_BYTES", "256KiB");
  const int kills_after[] = {150, 600, 40, 1000, 300};
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    ServerProcess server({}, settings);
    ASSERT_TRUE(server.wait_for_log("\"event\":\"recovered\""));
    if (round > 0) check_and_settle(server.port(), histories);
    std::atomic<bool> stop{false};
    std::atomic<int> acks{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < 6; ++w) {
      writers.emplace_back(hammer, server.port(), w, round, std::ref(stop), std::ref(acks), std::ref(histories),
                           std::ref(mutex));
    }
    const bool reached = harness::eventually([&] { return acks.load() >= kills_after[round]; }, 60000ms);
    server.signal(SIGKILL);
    stop.store(true);
    for (std::thread& t : writers) t.join();
    ASSERT_TRUE(reached);
  }
  ServerProcess server({}, settings);
  const auto recovered = server.wait_for_log("\"event\":\"recovered\"");
  ASSERT_TRUE(recovered);
  EXPECT_NE(recovered->find("snapshot-"), std::string::npos) << "no snapshot was taken under the load: " << *recovered;
  check_and_settle(server.port(), histories);
}

TEST_F(DurableTest, ASecondProcessOnTheSameDataDirExits2WithOneLine) {
  ServerProcess first({}, env());
  ServerProcess second({}, env());
  EXPECT_EQ(second.wait_exit(), 2);
  const std::vector<std::string> lines = second.log_lines();
  const auto named = std::find_if(lines.begin(), lines.end(), [&](const std::string& line) {
    return line.find(data_dir()) != std::string::npos && line.find("in use") != std::string::npos;
  });
  EXPECT_NE(named, lines.end()) << "no line names the locked directory";
  EXPECT_EQ(Client(first.port()).request("GET", "/healthz")->status, 200);
}

TEST_F(DurableTest, ATornTailIsTruncatedAndCounted) {
  {
    ServerProcess server({}, env());
    ASSERT_EQ(Client(server.port()).request("PUT", "/api/buckets/kept", "kept")->status, 200);
    server.signal(SIGTERM);
    ASSERT_EQ(server.wait_exit(), 0);
  }
  const std::vector<std::filesystem::path> segments = segments_in(data_dir());
  ASSERT_EQ(segments.size(), 1u);
  const auto good_size = std::filesystem::file_size(segments.back());
  // Half a record, as a write cut short by a crash leaves it.
  std::ofstream(segments.back(), std::ios::binary | std::ios::app) << std::string("\x12\x34\x56\x78\x40\x00", 6);
  ServerProcess server({}, env());
  const auto truncated = server.wait_for_log("\"event\":\"log_tail_truncated\"");
  ASSERT_TRUE(truncated);
  EXPECT_NE(truncated->find(segments.back().filename().string()), std::string::npos) << *truncated;
  EXPECT_NE(truncated->find("\"offset\":" + std::to_string(good_size)), std::string::npos) << *truncated;
  EXPECT_EQ(std::filesystem::file_size(segments.back()), good_size);
  EXPECT_EQ(Client(server.port()).request("GET", "/api/buckets/kept")->body, "kept");
  EXPECT_EQ(harness::metric_value(harness::scrape(server.port()), "storage_api_log_truncated_tails_total"), 1);
}

TEST_F(DurableTest, DamageInsideTheLogStopsTheStartUnlessRepairIsGiven) {
  {
    ServerProcess server({}, env());
    Client c(server.port());
    for (int i = 0; i < 20; ++i) {
      ASSERT_EQ(c.request("PUT", "/api/buckets/id" + std::to_string(i), value_for("id", i, 500))->status, 200);
    }
    server.signal(SIGTERM);
    ASSERT_EQ(server.wait_exit(), 0);
  }
  const std::filesystem::path segment = segments_in(data_dir()).back();
  const auto size = std::filesystem::file_size(segment);
  {
    std::fstream file(segment, std::ios::binary | std::ios::in | std::ios::out);
    file.seekp(static_cast<std::streamoff>(size / 2));
    file.put('\xff').put('\x00').put('\xff');
  }
  {
    ServerProcess refused({}, env());
    EXPECT_EQ(refused.wait_exit(), 1);
    const std::vector<std::string> lines = refused.log_lines();
    const bool named = std::any_of(lines.begin(), lines.end(), [&](const std::string& line) {
      return line.find(segment.filename().string()) != std::string::npos && line.find("offset") != std::string::npos &&
             line.find("--repair") != std::string::npos;
    });
    EXPECT_TRUE(named) << "no line names the damaged file, its offset and --repair";
    EXPECT_EQ(std::filesystem::file_size(segment), size) << "a refused start must not touch the log";
  }
  ServerProcess repaired({"--repair"}, env());
  ASSERT_TRUE(repaired.wait_for_log("\"event\":\"log_repaired\""));
  Client c(repaired.port());
  EXPECT_EQ(c.request("GET", "/api/buckets/id0")->status, 200) << "records before the damage are kept";
  EXPECT_EQ(c.request("GET", "/api/buckets/id19")->status, 404) << "records after the damage are dropped";
}

TEST_F(DurableTest, EverysecAndNoAnswerOnceWrittenAndKeepDataAcrossARestart) {
  for (const std::string mode : {"everysec", "no"}) {
    {
      ServerProcess server({}, env(mode));
      ASSERT_EQ(Client(server.port()).request("PUT", "/api/buckets/" + mode, mode)->status, 200);
      server.signal(SIGKILL);
      server.wait_exit();
    }
    // A SIGKILL is not a power cut: what was written is in the page cache and survives the process.
    ServerProcess server({}, env(mode));
    EXPECT_EQ(Client(server.port()).request("GET", "/api/buckets/" + mode)->body, mode) << mode;
    server.signal(SIGTERM);
    EXPECT_EQ(server.wait_exit(), 0);
  }
}

}  // namespace
