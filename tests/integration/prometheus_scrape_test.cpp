// The real Prometheus (Debian's 2.42) scraping the real binary: it negotiates OpenMetrics, parses it
// without error, and with exemplar storage on, stores exemplars whose trace ids are the access log's
// request ids. Needs `prometheus` and `curl` (to read its API); set STORAGE_API_ALLOW_NO_PROMETHEUS=1 to
// skip where they are missing.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "harness.h"

namespace {

using harness::Client;
using harness::ServerProcess;
using namespace std::chrono_literals;

// A loopback port free right now, for a server that cannot report the port it bound.
std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

class PrometheusProcess {
 public:
  PrometheusProcess(std::uint16_t target_port, const std::vector<std::string>& flags, const std::string& name)
      : directory_(::testing::TempDir() + "/prometheus-" + name + "-" + std::to_string(::getpid())),
        port_(free_port()) {
    std::filesystem::remove_all(directory_);
    std::filesystem::create_directories(directory_);
    std::ofstream(directory_ + "/prometheus.yml")
        << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        << "scrape_configs:\n  - job_name: storage_api\n    static_configs:\n"
        << "      - targets: ['127.0.0.1:" << target_port << "']\n";
    std::vector<std::string> args = {"prometheus", "--config.file=" + directory_ + "/prometheus.yml",
                                     "--storage.tsdb.path=" + directory_ + "/data",
                                     "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--log.level=warn"};
    args.insert(args.end(), flags.begin(), flags.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string log = directory_ + "/prometheus.log";
      const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (log_fd >= 0) {
        ::dup2(log_fd, STDOUT_FILENO);
        ::dup2(log_fd, STDERR_FILENO);
      }
      std::vector<char*> argv;
      for (std::string& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~PrometheusProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ignored;
    std::filesystem::remove_all(directory_, ignored);
  }

  // The body of GET <path> on Prometheus's API, or "" when it does not answer.
  std::string get(const std::string& path_and_query) const {
    const std::string out = directory_ + "/answer.json";
    const std::string command = "curl -s -g --max-time 5 -o '" + out + "' 'http://127.0.0.1:" + std::to_string(port_) +
                                path_and_query + "'";
    if (std::system(command.c_str()) != 0) return "";
    std::ifstream in(out);
    std::stringstream body;
    body << in.rdbuf();
    return body.str();
  }

 private:
  std::string directory_;
  std::uint16_t port_;
  pid_t pid_ = -1;
};

bool tools_present() {
  return std::system("command -v prometheus >/dev/null 2>&1 && command -v curl >/dev/null 2>&1") == 0;
}

#define REQUIRE_PROMETHEUS()                                                                             \
  do {                                                                                                   \
    if (!tools_present()) {                                                                              \
      if (std::getenv("STORAGE_API_ALLOW_NO_PROMETHEUS")) GTEST_SKIP() << "prometheus or curl missing";  \
      FAIL() << "prometheus and curl are required (set STORAGE_API_ALLOW_NO_PROMETHEUS=1 to skip)";      \
    }                                                                                                    \
  } while (false)

// Waits for a successful scrape: the target up, with no scrape error.
bool scraped_cleanly(const PrometheusProcess& prometheus, std::string& targets) {
  return harness::eventually(
      [&] {
        targets = prometheus.get("/api/v1/targets");
        return targets.find(R"("health":"up")") != std::string::npos &&
               targets.find(R"("lastError":"")") != std::string::npos;
      },
      30s);
}

TEST(PrometheusScrapeTest, WithoutFeatureFlagsOpenMetricsScrapesCleanly) {
  REQUIRE_PROMETHEUS();
  ServerProcess server;
  ASSERT_NE(server.port(), 0);
  Client c(server.port());
  ASSERT_EQ(c.request("GET", "/healthz")->status, 200);
  PrometheusProcess prometheus(server.port(), {}, "plain");
  std::string targets;
  ASSERT_TRUE(scraped_cleanly(prometheus, targets)) << targets;
  // Counters arrive under their _total names, and the histogram's buckets with them.
  std::string answer;
  EXPECT_TRUE(harness::eventually(
      [&] {
        answer = prometheus.get("/api/v1/query?query=http_request_duration_seconds_bucket{path=\"/healthz\",le=\"%2BInf\"}");
        return answer.find(R"("status":"200")") != std::string::npos;
      },
      30s))
      << answer;
  answer = prometheus.get("/api/v1/query?query=storage_api_refusals_total");
  EXPECT_NE(answer.find(R"("reason":"storage_full")"), std::string::npos) << answer;
}

TEST(PrometheusScrapeTest, ExemplarStorageKeepsTheRequestIdsOfTheAccessLog) {
  REQUIRE_PROMETHEUS();
  ServerProcess server({}, {{"ACCESS_LOG", "true"}});
  ASSERT_NE(server.port(), 0);
  Client c(server.port());
  ASSERT_EQ(c.request("GET", "/api/buckets/absent", {}, "X-Request-Id: e2e-exemplar-404\r\n")->status, 404);
  const auto line = server.wait_for_log(R"("request_id":"e2e-exemplar-404")");
  ASSERT_TRUE(line);

  PrometheusProcess prometheus(server.port(), {"--enable-feature=exemplar-storage"}, "exemplars");
  std::string targets;
  ASSERT_TRUE(scraped_cleanly(prometheus, targets)) << targets;
  std::string answer;
  EXPECT_TRUE(harness::eventually(
      [&] {
        answer = prometheus.get("/api/v1/query_exemplars?query=http_request_duration_seconds_bucket{status=\"404\"}"
                                "&start=0&end=4000000000");
        return answer.find(R"("trace_id":"e2e-exemplar-404")") != std::string::npos;
      },
      30s))
      << answer;
}

// The value of the first sample in an instant-query answer, or NaN.
double first_value(const std::string& answer) {
  const std::size_t at = answer.find(R"("value":[)");
  if (at == std::string::npos) return std::nan("");
  const std::size_t open = answer.find('"', answer.find(',', at));
  const std::size_t close = answer.find('"', open + 1);
  if (open == std::string::npos || close == std::string::npos) return std::nan("");
  return std::strtod(answer.substr(open + 1, close - open - 1).c_str(), nullptr);
}

// With native histograms on, Prometheus 2.42 asks for protobuf first: it scrapes the native histogram,
// whose p99 must agree with the classic buckets' (scraped by a second Prometheus over OpenMetrics) within
// the classic bucket holding it, give or take one native bucket (9 % at schema 3).
TEST(PrometheusScrapeTest, NativeHistogramsOverProtobufAgreeWithTheClassicBuckets) {
  REQUIRE_PROMETHEUS();
  ServerProcess server({}, {{"ACCESS_LOG", "true"}});
  ASSERT_NE(server.port(), 0);
  Client c(server.port());
  for (int i = 0; i < 300; ++i) ASSERT_EQ(c.request("GET", "/healthz")->status, 200);
  ASSERT_EQ(c.request("GET", "/api/buckets/nope", {}, "X-Request-Id: native-404\r\n")->status, 404);

  PrometheusProcess native(server.port(), {"--enable-feature=native-histograms,exemplar-storage"}, "native");
  PrometheusProcess classic(server.port(), {}, "classic");
  std::string targets;
  ASSERT_TRUE(scraped_cleanly(native, targets)) << targets;
  ASSERT_TRUE(scraped_cleanly(classic, targets)) << targets;

  const std::string series = R"({method="GET",path="/healthz",status="200"})";
  std::string answer;
  ASSERT_TRUE(harness::eventually(
      [&] {
        answer = native.get("/api/v1/query?query=histogram_count(http_request_duration_seconds" + series + ")");
        return first_value(answer) == 300;
      },
      30s))
      << answer;
  // No classic series from the protobuf scrape: 2.42 keeps only the native histogram of a family with both.
  const double native_p99 =
      first_value(native.get("/api/v1/query?query=histogram_quantile(0.99,http_request_duration_seconds" + series + ")"));
  double classic_p99 = std::nan("");
  ASSERT_TRUE(harness::eventually(
      [&] {
        classic_p99 = first_value(classic.get(
            "/api/v1/query?query=histogram_quantile(0.99,http_request_duration_seconds_bucket" + series + ")"));
        return !std::isnan(classic_p99);
      },
      30s));
  const std::vector<double> bounds = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                      0.05,    0.1,    0.25,    0.5,    1,     2.5,    5,     10};
  double lower = 0;
  double upper = bounds.back();
  for (const double bound : bounds) {
    if (classic_p99 <= bound) {
      upper = bound;
      break;
    }
    lower = bound;
  }
  EXPECT_GE(native_p99, lower / 1.1) << "classic " << classic_p99;
  EXPECT_LE(native_p99, upper * 1.1) << "classic " << classic_p99;
  EXPECT_GT(native_p99, 0);

  // The protobuf scrape's exemplars are the access log's request ids too.
  ASSERT_TRUE(server.wait_for_log(R"("request_id":"native-404")"));
  EXPECT_TRUE(harness::eventually(
      [&] {
        answer = native.get("/api/v1/query_exemplars?query=http_request_duration_seconds{status=\"404\"}"
                            "&start=0&end=4000000000");
        return answer.find(R"("trace_id":"native-404")") != std::string::npos;
      },
      10s))
      << answer;
}

}  // namespace
