// Memory of the real binary under pressure: a flood of PUTs against a small storage cap, and a soak of
// mixed traffic. The resident set is read from /proc/<pid>/status and compared with the process's own
// figures taken after start-up, so the bounds hold for sanitized builds (larger, but just as flat).
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "integration/harness.h"
#include "store/bucket_store.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using harness::Client;
using harness::ServerProcess;

constexpr std::size_t kMiB = 1024 * 1024;

// The tests are built with the server's flags, so they know when it runs sanitized: AddressSanitizer's
// shadow and redzones roughly double the memory behind each stored byte, ThreadSanitizer's shadow makes it
// five to six times as much. Memory bounds above the baseline are scaled by this factor.
#if defined(__has_feature)
#define STORAGE_API_FAULT_HAS_FEATURE(name) __has_feature(name)
#else
#define STORAGE_API_FAULT_HAS_FEATURE(name) 0
#endif
#if defined(__SANITIZE_THREAD__) || STORAGE_API_FAULT_HAS_FEATURE(thread_sanitizer)
constexpr bool kAddressSanitizer = false;
constexpr double kMemoryOverhead = 6;
#elif defined(__SANITIZE_ADDRESS__) || STORAGE_API_FAULT_HAS_FEATURE(address_sanitizer)
constexpr bool kAddressSanitizer = true;
constexpr double kMemoryOverhead = 2;
#else
constexpr bool kAddressSanitizer = false;
constexpr double kMemoryOverhead = 1;
#endif

// AddressSanitizer keeps freed memory in a quarantine of up to 256 MiB before reusing it, which would read
// as growth. A small quarantine still catches use-after-free of recent allocations and keeps RSS meaningful.
std::vector<std::pair<std::string, std::string>> server_environment() {
  if (!kAddressSanitizer) return {};
  std::string options = "quarantine_size_mb=8";
  if (const char* inherited = std::getenv("ASAN_OPTIONS"); inherited != nullptr && *inherited != '\0') {
    options = std::string(inherited).append(":").append(options);
  }
  return {{"ASAN_OPTIONS", options}};
}

// VmRSS of a process in bytes, from /proc/<pid>/status.
std::optional<std::size_t> resident_bytes(pid_t pid) {
  std::string path = "/proc/";
  path.append(std::to_string(pid)).append("/status");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text;
  char chunk[4096];
  ssize_t n;
  while ((n = ::read(fd, chunk, sizeof chunk)) > 0) text.append(chunk, static_cast<std::size_t>(n));
  ::close(fd);
  const std::size_t at = text.find("\nVmRSS:");
  if (at == std::string::npos) return std::nullopt;
  return std::strtoull(text.c_str() + at + 7, nullptr, 10) * 1024;
}

std::optional<double> resident_mib(pid_t pid) {
  const auto bytes = resident_bytes(pid);
  if (!bytes) return std::nullopt;
  return static_cast<double>(*bytes) / kMiB;
}

std::optional<double> scrape(Client& client, std::string_view series) {
  const auto metrics = client.request("GET", "/metrics");
  if (!metrics || metrics->status != 200) return std::nullopt;
  return harness::metric_value(metrics->body, series);
}

std::string bucket_path(std::string_view id) {
  std::string path = "/api/buckets/";
  path.append(id);
  return path;
}

std::string chunked_put(std::string_view path, std::string_view body) {
  std::string request = "PUT ";
  request.append(path).append(" HTTP/1.1\r\nHost: fault\r\nTransfer-Encoding: chunked\r\n\r\n");
  constexpr std::size_t kChunk = 16 * 1024;
  char size_line[32];
  for (std::size_t at = 0; at < body.size(); at += kChunk) {
    const std::string_view piece = body.substr(at, kChunk);
    const int length = std::snprintf(size_line, sizeof size_line, "%zx\r\n", piece.size());
    request.append(size_line, static_cast<std::size_t>(length)).append(piece).append("\r\n");
  }
  request.append("0\r\n\r\n");
  return request;
}

// A keep-alive client that reconnects whenever the server closes the connection (as it does after
// refusing a body it will not read).
class Session {
 public:
  explicit Session(std::uint16_t port) : port_(port) {}

  std::optional<harness::Response> send(const std::string& raw_request, bool head_request = false) {
    if (!client_) client_.emplace(port_, 10000ms);
    std::optional<harness::Response> response;
    if (client_->send(raw_request)) response = client_->read_response(head_request);
    if (!response || response->header("connection") == "close") client_.reset();
    return response;
  }
  std::optional<harness::Response> request(std::string_view method, std::string_view target,
                                           std::string_view body = {}) {
    return send(harness::build_request(method, target, body), method == "HEAD");
  }
  void reconnect() { client_.reset(); }

 private:
  std::uint16_t port_;
  std::optional<Client> client_;
};

// Samples a value every period on its own thread until stopped; the samples are read after stop().
class Sampler {
 public:
  Sampler(std::chrono::milliseconds period, std::function<std::optional<double>()> sample)
      : thread_([this, period, sample = std::move(sample)] {
          std::unique_lock lock(mutex_);
          while (!stopped_) {
            lock.unlock();
            const std::optional<double> value = sample();
            lock.lock();
            if (value) samples_.push_back(*value);
            stop_requested_.wait_for(lock, period, [this] { return stopped_; });
          }
        }) {}
  ~Sampler() { stop(); }
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  const std::vector<double>& stop() {
    {
      std::lock_guard lock(mutex_);
      stopped_ = true;
    }
    stop_requested_.notify_all();
    if (thread_.joinable()) thread_.join();
    return samples_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable stop_requested_;
  bool stopped_ = false;
  std::vector<double> samples_;
  std::thread thread_;  // last: starts once the members it uses exist
};

// A sanitized server reports on its stderr, and ThreadSanitizer then carries on: a report must fail the test
// that provoked it even when the server keeps answering.
void expect_no_sanitizer_report(ServerProcess& server) {
  for (const std::string& line : server.log_lines()) {
    EXPECT_EQ(line.find("Sanitizer"), std::string::npos) << line;
    EXPECT_EQ(line.find("runtime error:"), std::string::npos) << line;
  }
}

TEST(MemoryBoundTest, PutFloodAgainstASmallCapGets507sAndMemoryStaysBounded) {
  constexpr std::size_t kCap = 4 * kMiB;
  constexpr int kThreads = 4;
  constexpr int kIdsPerThread = 40;
  constexpr int kRounds = 10;
  // Fixed cost of the connections, allocator arenas and parse buffers, on top of the stored data.
  constexpr std::size_t kAllowance = 24 * kMiB;
  constexpr std::size_t kSizes[] = {64 * 1024, 32 * 1024, 96 * 1024, 48 * 1024};
  ServerProcess server({"--max-storage-bytes", std::to_string(kCap), "--threads", "2"}, server_environment());
  ASSERT_NE(server.port(), 0);

  // Warm up every code path once, then take the baseline.
  Session setup(server.port());
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(setup.request("PUT", "/api/buckets/warm", std::string(kSizes[i % 4], 'w'))->status, 200);
    ASSERT_EQ(setup.send(chunked_put("/api/buckets/warm", std::string(kSizes[i % 4], 'c')))->status, 200);
    ASSERT_EQ(setup.request("GET", "/api/buckets/warm")->status, 200);
  }
  ASSERT_EQ(setup.request("DELETE", "/api/buckets/warm")->status, 200);
  const auto baseline = resident_bytes(server.pid());
  ASSERT_TRUE(baseline);

  Client scraper(server.port(), 10000ms);
  Sampler stored(20ms, [&] { return scrape(scraper, "storage_api_stored_bytes"); });
  Sampler resident(20ms, [&] { return resident_mib(server.pid()); });

  // Each thread owns its ids, so it knows what each of them must hold at the end: the body of the last PUT
  // that was answered 200.
  struct Outcomes {
    std::map<std::string, std::string> expected;
    int ok = 0;
    int refused = 0;
    std::vector<std::string> failures;
  };
  std::vector<Outcomes> outcomes(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Outcomes& mine = outcomes[static_cast<std::size_t>(t)];
      Session session(server.port());
      for (int round = 0; round < kRounds; ++round) {
        for (int i = 0; i < kIdsPerThread; ++i) {
          std::string id = "t";
          id.append(std::to_string(t)).append("-").append(std::to_string(i));
          const std::size_t size = kSizes[static_cast<std::size_t>(round + i) % 4];
          const std::string body(size, static_cast<char>('A' + (round * 7 + i) % 26));
          // Chunked bodies cannot be refused before they arrive: they exercise the buffered-then-refused path.
          const auto r = (i % 2 == 0) ? session.request("PUT", bucket_path(id), body)
                                      : session.send(chunked_put(bucket_path(id), body));
          if (!r) {
            mine.failures.push_back("no answer to a PUT");
            continue;
          }
          if (r->status == 200) {
            mine.expected[id] = body;
            ++mine.ok;
          } else if (r->status == 507) {
            ++mine.refused;
          } else {
            mine.failures.push_back(std::string("unexpected status ").append(std::to_string(r->status)));
          }
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const std::vector<double> stored_samples = stored.stop();
  const std::vector<double> resident_samples = resident.stop();

  int ok = 0;
  int refused = 0;
  std::size_t expected_bytes = 0;
  Session check(server.port());
  for (const Outcomes& mine : outcomes) {
    for (const std::string& failure : mine.failures) ADD_FAILURE() << failure;
    ok += mine.ok;
    refused += mine.refused;
    for (const auto& [id, body] : mine.expected) {
      expected_bytes += store::BucketStore::entry_bytes(id.size(), body.size());
    }
  }
  EXPECT_GT(ok, 0);
  EXPECT_GT(refused, kThreads * kIdsPerThread * kRounds / 2) << "the cap should refuse most of the flood";

  // The store holds what was acknowledged (each entry at least its own bytes; pages and tables are charged
  // whole, so the total is more), never more than the cap, and loses nothing acknowledged.
  ASSERT_FALSE(stored_samples.empty());
  EXPECT_LE(*std::max_element(stored_samples.begin(), stored_samples.end()), static_cast<double>(kCap));
  EXPECT_GE(scrape(scraper, "storage_api_stored_bytes"), static_cast<double>(expected_bytes));
  EXPECT_LE(expected_bytes, kCap);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kIdsPerThread; ++i) {
      std::string id = "t";
      id.append(std::to_string(t)).append("-").append(std::to_string(i));
      const auto& expected = outcomes[static_cast<std::size_t>(t)].expected;
      const auto r = check.request("GET", bucket_path(id));
      ASSERT_TRUE(r);
      const auto it = expected.find(id);
      if (it == expected.end()) {
        EXPECT_EQ(r->status, 404) << id;
      } else {
        EXPECT_EQ(r->status, 200) << id;
        EXPECT_TRUE(r->body == it->second) << id << " does not hold its last acknowledged value";
      }
    }
  }
  // Emptied, the store is charged nothing: no charge was lost or left behind by the flood.
  for (const Outcomes& mine : outcomes) {
    for (const auto& entry : mine.expected) EXPECT_EQ(check.request("DELETE", bucket_path(entry.first))->status, 200);
  }
  EXPECT_EQ(scrape(scraper, "storage_api_stored_bytes"), 0.0);
  EXPECT_EQ(scrape(scraper, "storage_api_buckets"), 0.0);

  // Memory stays within the cap plus a fixed allowance (scaled for sanitized builds), however much the flood
  // sent.
  ASSERT_FALSE(resident_samples.empty());
  const double peak = *std::max_element(resident_samples.begin(), resident_samples.end());
  RecordProperty("baseline_rss_kib", static_cast<int>(*baseline / 1024));
  RecordProperty("peak_rss_kib", static_cast<int>(peak * 1024));
  const double bound =
      static_cast<double>(*baseline) / kMiB + kMemoryOverhead * static_cast<double>(kCap + kAllowance) / kMiB;
  EXPECT_LE(peak, bound)
      << "peak RSS " << peak << " MiB, baseline " << static_cast<double>(*baseline) / kMiB << " MiB";
  expect_no_sanitizer_report(server);
}

// STORAGE_API_SOAK_SECONDS sets the length of the soak (a few minutes when asked for; short by default).
std::chrono::seconds soak_duration() {
  constexpr long kDefault = 15;
  const char* text = std::getenv("STORAGE_API_SOAK_SECONDS");
  const long seconds = text != nullptr ? std::strtol(text, nullptr, 10) : kDefault;
  return std::chrono::seconds(std::clamp(seconds > 0 ? seconds : kDefault, 6L, 24L * 3600));
}

struct SoakTally {
  std::map<int, int> statuses;
  std::vector<std::string> failures;
  std::map<std::string, std::string> expected;  // the worker's ids and their current values

  void check(bool ok, std::string_view what) {
    if (!ok && failures.size() < 20) failures.emplace_back(what);
  }
};

// One worker of the soak: mixed requests over its own bounded set of ids, each answer checked against what
// the worker knows the store must hold.
void soak_worker(std::uint16_t port, int worker, Clock::time_point deadline, SoakTally& tally) {
  constexpr int kIds = 64;
  constexpr std::size_t kMaxValue = 32 * 1024;
  constexpr std::size_t kTooLarge = 64 * 1024 + 1;  // the server runs with --max-body-bytes 64Ki
  std::mt19937 random(static_cast<std::mt19937::result_type>(1000 + worker));
  Session session(port);
  for (long i = 0; i < 100'000'000 && Clock::now() < deadline; ++i) {
    if (i % 250 == 0) session.reconnect();  // connections come and go as well
    std::string id = "w";
    id.append(std::to_string(worker)).append("-").append(std::to_string(random() % kIds));
    const std::string path = bucket_path(id);
    const auto known = tally.expected.find(id);
    const unsigned pick = random() % 100;
    std::optional<harness::Response> r;
    if (pick < 35) {
      const std::string value(random() % (kMaxValue + 1), static_cast<char>('a' + random() % 26));
      r = session.request("PUT", path, value);
      tally.check(r && r->status == 200, "PUT not answered 200");
      if (r && r->status == 200) tally.expected[id] = value;
    } else if (pick < 70) {
      r = session.request("GET", path);
      if (known == tally.expected.end()) {
        tally.check(r && r->status == 404, "GET of an absent id not answered 404");
      } else {
        tally.check(r && r->status == 200 && r->body == known->second, "GET did not return the stored value");
      }
    } else if (pick < 80) {
      r = session.request("DELETE", path);
      // An unknown id is a 400 for compatibility with the service this one replaces.
      tally.check(r && r->status == (known == tally.expected.end() ? 400 : 200), "DELETE answered wrongly");
      if (r && r->status == 200) tally.expected.erase(id);
    } else if (pick < 85) {
      r = session.request("HEAD", path);
      const bool present = known != tally.expected.end();
      tally.check(r && r->status == (present ? 200 : 404) && r->body.empty() &&
                      (!present || r->header("content-length") == std::to_string(known->second.size())),
                  "HEAD answered wrongly");
    } else if (pick < 90) {
      r = session.request("GET", "/api/buckets/bad%zz");
      tally.check(r && r->status == 400, "malformed id not answered 400");
    } else if (pick < 94) {
      r = session.request("PUT", path, std::string(kTooLarge, 'x'));
      tally.check(r && r->status == 413, "oversized body not answered 413");
    } else if (pick < 97) {
      r = session.request("GET", "/no/such/route");
      tally.check(r && r->status == 404, "unknown route not answered 404");
    } else {
      r = session.request("GET", "/metrics");
      tally.check(r && r->status == 200, "metrics not answered 200");
    }
    if (r) ++tally.statuses[r->status];
  }
}

TEST(MemoryBoundTest, SoakOfMixedTrafficKeepsMemoryFlat) {
  constexpr int kWorkers = 3;
  // Steady-state noise: allocator arenas settling, a connection's buffers more or less at a sample.
  constexpr double kAllowanceMiB = 2.0;
  const auto duration = soak_duration();
  ServerProcess server({"--max-body-bytes", "64Ki", "--max-storage-bytes", "64Mi", "--threads", "2"},
                       server_environment());
  ASSERT_NE(server.port(), 0);

  Sampler resident(1000ms, [&] { return resident_mib(server.pid()); });
  std::vector<SoakTally> tallies(kWorkers);
  std::vector<std::thread> workers;
  const auto deadline = Clock::now() + duration;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back(soak_worker, server.port(), w, deadline, std::ref(tallies[static_cast<std::size_t>(w)]));
  }
  for (auto& worker : workers) worker.join();
  const std::vector<double> samples = resident.stop();

  std::map<int, int> statuses;
  std::size_t expected_bytes = 0;
  std::size_t expected_buckets = 0;
  for (const SoakTally& tally : tallies) {
    for (const std::string& failure : tally.failures) ADD_FAILURE() << failure;
    for (const auto& [status, count] : tally.statuses) statuses[status] += count;
    for (const auto& [id, value] : tally.expected) {
      expected_bytes += store::BucketStore::entry_bytes(id.size(), value.size());
    }
    expected_buckets += tally.expected.size();
  }
  for (const int status : {200, 400, 404, 413}) EXPECT_GT(statuses[status], 0) << "no " << status << " answers";
  int requests = 0;
  for (const auto& [status, count] : statuses) requests += count;
  RecordProperty("requests", requests);

  Client check(server.port());
  EXPECT_GE(scrape(check, "storage_api_stored_bytes"), static_cast<double>(expected_bytes));
  EXPECT_EQ(scrape(check, "storage_api_buckets"), static_cast<double>(expected_buckets));

  // The data set is stable after the first third; from then on the resident set must not grow.
  ASSERT_GE(samples.size(), 6u) << "too few RSS samples";
  const std::size_t third = samples.size() / 3;
  const auto max_of = [&](std::size_t from, std::size_t to) {
    return *std::max_element(samples.begin() + static_cast<std::ptrdiff_t>(from),
                             samples.begin() + static_cast<std::ptrdiff_t>(to));
  };
  const double middle = max_of(third, 2 * third);
  const double last = max_of(2 * third, samples.size());
  std::string trace;
  for (const double mib : samples) trace.append(std::to_string(static_cast<int>(mib * 1024))).append(" ");
  RecordProperty("rss_kib_per_second", trace);
  EXPECT_LE(last, middle + kMemoryOverhead * kAllowanceMiB) << "RSS grew from " << middle << " MiB to " << last
                                          << " MiB; samples (KiB): " << trace;
  // Emptied, the store is charged nothing: the soak's replacements and deletes left no charge behind.
  for (const SoakTally& tally : tallies) {
    for (const auto& entry : tally.expected) EXPECT_EQ(check.request("DELETE", bucket_path(entry.first))->status, 200);
  }
  EXPECT_EQ(scrape(check, "storage_api_stored_bytes"), 0.0);
  EXPECT_EQ(scrape(check, "storage_api_buckets"), 0.0);
  expect_no_sanitizer_report(server);
}

}  // namespace
