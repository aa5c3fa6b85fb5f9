#include "metrics/registry.h"

#include <gtest/gtest.h>

#include "support/temp_dir.h"
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "metrics/histogram.h"
#include "metrics/process_metrics.h"

namespace metrics {
namespace {

// Writes fixed text, so tests can see exactly where each collector's output lands.
class FixedTextCollector final : public Collector {
 public:
  FixedTextCollector(std::string name, double value) : name_(std::move(name)), value_(value) {}
  void collect(TextWriter& out) const override {
    out.family(name_, "A fixed value.", MetricType::kGauge);
    out.sample(name_, {{"source", "fake"}}, value_);
  }

 private:
  std::string name_;
  double value_;
};

class SilentCollector final : public Collector {
 public:
  void collect(TextWriter&) const override {}
};

TEST(Registry, EmptyRegistryRendersNothing) {
  const Registry registry;
  std::string out;
  registry.render(out);
  EXPECT_EQ(out, "");
}

TEST(Registry, RendersCollectorsInRegistrationOrderAndAppends) {
  const FixedTextCollector zeta("zeta", 1);
  const SilentCollector silent;
  const FixedTextCollector alpha("alpha", 2.5);
  Registry registry;
  registry.add(zeta);
  registry.add(silent);
  registry.add(alpha);
  std::string out = "previous\n";
  registry.render(out);
  EXPECT_EQ(out,
            "previous\n"
            "# HELP zeta A fixed value.\n"
            "# TYPE zeta gauge\n"
            "zeta{source=\"fake\"} 1\n"
            "# HELP alpha A fixed value.\n"
            "# TYPE alpha gauge\n"
            "alpha{source=\"fake\"} 2.5\n");
}

TEST(CallbackGauge, ReadsTheValueAtEveryScrape) {
  double stored_bytes = 0;
  const CallbackGauge gauge("storage_api_stored_bytes", "Bytes held in the store.", [&] { return stored_bytes; });
  Registry registry;
  registry.add(gauge);

  std::string first;
  registry.render(first);
  stored_bytes = 4096;
  std::string second;
  registry.render(second);

  EXPECT_EQ(first,
            "# HELP storage_api_stored_bytes Bytes held in the store.\n"
            "# TYPE storage_api_stored_bytes gauge\n"
            "storage_api_stored_bytes 0\n");
  EXPECT_EQ(second,
            "# HELP storage_api_stored_bytes Bytes held in the store.\n"
            "# TYPE storage_api_stored_bytes gauge\n"
            "storage_api_stored_bytes 4096\n");
}

TEST(CallbackGauge, CanBeACounter) {
  const CallbackGauge counter("rejected_total", "Rejected requests.", [] { return 12.0; }, MetricType::kCounter);
  std::string out;
  TextWriter writer(out);
  counter.collect(writer);
  EXPECT_EQ(out,
            "# HELP rejected_total Rejected requests.\n"
            "# TYPE rejected_total counter\n"
            "rejected_total 12\n");
}

TEST(CallbackGauge, WithoutAFunctionRendersNothing) {
  const CallbackGauge gauge("g", "No source.", std::function<double()>());
  std::string out;
  TextWriter writer(out);
  gauge.collect(writer);
  EXPECT_EQ(out, "");
}

TEST(InfoGauge, RendersConstantOneWithEscapedLabels) {
  const InfoGauge info("storage_api_build_info", "Build information.",
                       {{"version", "1.0.0"}, {"compiler", "g++ \"12\"\\x"}, {"note", "a\nb"}});
  const InfoGauge bare("bare_info", "No labels.", {});
  Registry registry;
  registry.add(info);
  registry.add(bare);
  std::string out;
  registry.render(out);
  EXPECT_EQ(out,
            "# HELP storage_api_build_info Build information.\n"
            "# TYPE storage_api_build_info gauge\n"
            "storage_api_build_info{version=\"1.0.0\",compiler=\"g++ \\\"12\\\"\\\\x\",note=\"a\\nb\"} 1\n"
            "# HELP bare_info No labels.\n"
            "# TYPE bare_info gauge\n"
            "bare_info 1\n");
}

TEST(Registry, RendersFromSeveralThreadsAtOnce) {
  const FixedTextCollector first("first", 1);
  const InfoGauge info("build_info", "Build information.", {{"version", "1"}});
  Registry registry;
  registry.add(first);
  registry.add(info);
  std::string expected;
  registry.render(expected);

  constexpr int kThreads = 4;
  std::array<std::string, kThreads> outputs;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&registry, &outputs, t] {
      for (int i = 0; i < 100; ++i) {
        outputs[static_cast<std::size_t>(t)].clear();
        registry.render(outputs[static_cast<std::size_t>(t)]);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::string& output : outputs) EXPECT_EQ(output, expected);
}

// --- A realistic /metrics page checked by promtool ---------------------------------------------------------

constexpr std::array<std::string_view, 2> kMethods = {"GET", "PUT"};
constexpr std::array<std::string_view, 2> kPaths = {"/api/buckets/{id}", "/metrics"};
constexpr std::array<std::string_view, 2> kStatuses = {"200", "404"};

std::size_t series_index(std::size_t method, std::size_t path, std::size_t status) {
  return (method * kPaths.size() + path) * kStatuses.size() + status;
}

// Renders a histogram family the way the request metrics do: one series per label combination observed.
class RequestDurationCollector final : public Collector {
 public:
  explicit RequestDurationCollector(const ShardedHistogram& histogram) : histogram_(histogram) {}
  void collect(TextWriter& out) const override {
    constexpr std::string_view kName = "http_request_duration_seconds";
    out.family(kName, "Latency of HTTP requests, from the first byte read to the last byte written.",
               MetricType::kHistogram);
    ShardedHistogram::Snapshot snapshot;
    for (std::size_t method = 0; method < kMethods.size(); ++method) {
      for (std::size_t path = 0; path < kPaths.size(); ++path) {
        for (std::size_t status = 0; status < kStatuses.size(); ++status) {
          const std::size_t series = series_index(method, path, status);
          if (histogram_.count(series) == 0) continue;
          histogram_.collect(series, snapshot);
          const Label labels[] = {{"method", kMethods[method]}, {"path", kPaths[path]}, {"status", kStatuses[status]}};
          write_histogram_series(out, kName, labels, snapshot, histogram_.upper_bounds());
        }
      }
    }
  }

 private:
  const ShardedHistogram& histogram_;
};

using test_support::TempDir;

std::filesystem::path find_on_path(std::string_view program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return {};
  std::string_view remaining = path;
  while (!remaining.empty()) {
    const std::size_t colon = remaining.find(':');
    const std::string_view directory = remaining.substr(0, colon);
    if (!directory.empty()) {
      const std::filesystem::path candidate = std::filesystem::path(directory) / program;
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    if (colon == std::string_view::npos) break;
    remaining.remove_prefix(colon + 1);
  }
  return {};
}

TEST(Registry, RealisticExpositionPassesPromtool) {
  const std::filesystem::path promtool = find_on_path("promtool");
  if (promtool.empty()) {
    const char* allow = std::getenv("STORAGE_API_ALLOW_NO_PROMTOOL");
    if (allow != nullptr && std::string_view(allow) == "1") {
      GTEST_SKIP() << "promtool not on PATH and STORAGE_API_ALLOW_NO_PROMTOOL=1";
    }
    FAIL() << "promtool is not on PATH, so the exposition cannot be validated. Install it (Debian package "
              "'prometheus') or set STORAGE_API_ALLOW_NO_PROMTOOL=1 to skip this check.";
  }

  ShardedHistogram durations(default_duration_buckets(), kMethods.size() * kPaths.size() * kStatuses.size(), 2);
  durations.observe(0, series_index(0, 0, 0), 0.0004);
  durations.observe(1, series_index(0, 0, 0), 0.0021);
  durations.observe(1, series_index(0, 0, 0), 12.5);
  durations.observe(0, series_index(1, 0, 1), 0.00003);
  durations.observe(1, series_index(0, 1, 0), 0.75);
  const RequestDurationCollector duration_collector(durations);
  const CallbackGauge stored_bytes("storage_api_stored_bytes", "Bytes of object data held in memory.",
                                   [] { return 1048576.0; });
  const CallbackGauge buckets("storage_api_buckets", "Buckets currently stored.", [] { return 3.0; });
  const CallbackGauge rejected("storage_api_rejected_connections_total",
                               "Connections refused because the connection limit was reached.", [] { return 2.0; },
                               MetricType::kCounter);
  const InfoGauge build_info("storage_api_build_info", "Build information; the value is always 1.",
                             {{"version", "1.0.0"}, {"compiler", "g++ \"12\" \\ x"}});
  const ProcessCollector process;
  Registry registry;
  registry.add(duration_collector);
  registry.add(stored_bytes);
  registry.add(buckets);
  registry.add(rejected);
  registry.add(build_info);
  registry.add(process);
  std::string page;
  registry.render(page);
  ASSERT_NE(page.find("http_request_duration_seconds_bucket{method=\"GET\",path=\"/api/buckets/{id}\","
                      "status=\"200\",le=\"+Inf\"} 3\n"),
            std::string::npos)
      << page;
  ASSERT_NE(page.find("process_open_fds "), std::string::npos) << page;

  const TempDir directory;
  ASSERT_FALSE(directory.path().empty());
  const std::filesystem::path page_file = directory.path() / "metrics.txt";
  {
    std::ofstream file(page_file, std::ios::binary);
    file << page;
    ASSERT_TRUE(file.good());
  }

  std::string command = "'";
  command.append(promtool.string()).append("' check metrics < '").append(page_file.string()).append("' 2>&1");
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  std::array<char, 4096> chunk;
  while (const std::size_t got = std::fread(chunk.data(), 1, chunk.size(), pipe)) output.append(chunk.data(), got);
  const int status = ::pclose(pipe);
  EXPECT_EQ(output, "") << page;
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << output;
}

}  // namespace
}  // namespace metrics
