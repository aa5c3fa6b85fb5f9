// The token files of the real binary: read at start-up (a missing, empty or bad file stops the start with
// one line and exit 2), re-read on SIGHUP (tokens_reloaded, or tokens_reload_failed with the process still
// serving), and never written to the log. Whether requests are refused without a token is the HTTP
// handler's part and tested with it.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "harness.h"
#include "support/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using harness::Client;
using harness::ServerProcess;

constexpr std::string_view kReadToken = "it-read-token-6f1d2c3b4a5e";
constexpr std::string_view kWriteToken = "it-write-token-9a8b7c6d5e4f";
constexpr std::string_view kNextWriteToken = "it-next-write-token-0a1b2c3d4e5f";

class TokensReloadTest : public ::testing::Test {
 protected:
  std::string write_file(const std::string& name, std::string_view contents) {
    const std::string path = (dir_.path() / name).string();
    std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
    return path;
  }
  std::vector<std::pair<std::string, std::string>> token_env() {
    return {{"READ_TOKEN_FILE", write_file("read_token", std::string(kReadToken) + "\n")},
            {"WRITE_TOKEN_FILE", write_file("write_token", std::string(kWriteToken) + "\n")}};
  }

  test_support::TempDir dir_;
};

std::size_t count_lines(ServerProcess& server, std::string_view needle) {
  const std::vector<std::string> lines = server.log_lines();
  return static_cast<std::size_t>(
      std::count_if(lines.begin(), lines.end(), [needle](const std::string& l) { return l.find(needle) != l.npos; }));
}

// Waits until `needle` has appeared in `count` lines; the last such line, or empty on timeout.
std::string await_nth_line(ServerProcess& server, std::string_view needle, std::size_t count) {
  if (!harness::eventually([&] { return count_lines(server, needle) >= count; })) return {};
  const std::vector<std::string> lines = server.log_lines();
  for (auto it = lines.rbegin(); it != lines.rend(); ++it) {
    if (it->find(needle) != std::string::npos) return *it;
  }
  return {};
}

void expect_no_token_in_log(ServerProcess& server) {
  for (const std::string& line : server.log_lines()) {
    for (const std::string_view token : {kReadToken, kWriteToken, kNextWriteToken}) {
      EXPECT_EQ(line.find(token), std::string::npos) << "a token in the log: " << line;
    }
  }
}

bool serves(std::uint16_t port) {
  Client client(port);
  const auto r = client.request("GET", "/healthz");
  return r && r->status == 200;
}

TEST_F(TokensReloadTest, StartsWithValidFilesAndLogsPathsAndCountsOnly) {
  const auto env = token_env();
  ServerProcess server({}, env);
  ASSERT_NE(server.port(), 0) << "did not start";
  const auto listening = server.wait_for_log("\"event\":\"listening\"");
  ASSERT_TRUE(listening);
  EXPECT_NE(listening->find("\"read_token_file\":\"" + env[0].second + "\""), std::string::npos) << *listening;
  EXPECT_NE(listening->find("\"write_token_file\":\"" + env[1].second + "\""), std::string::npos) << *listening;
  const auto loaded = server.wait_for_log("\"event\":\"tokens_loaded\"");
  ASSERT_TRUE(loaded);
  EXPECT_NE(loaded->find("\"read_tokens\":1,\"write_tokens\":1"), std::string::npos) << *loaded;
  EXPECT_TRUE(serves(server.port()));
  expect_no_token_in_log(server);
}

TEST_F(TokensReloadTest, WithoutTokenFilesTheConfigShowsNullAndNothingIsLoaded) {
  ServerProcess server;
  ASSERT_NE(server.port(), 0);
  const auto listening = server.wait_for_log("\"event\":\"listening\"");
  ASSERT_TRUE(listening);
  EXPECT_NE(listening->find("\"read_token_file\":null,\"write_token_file\":null"), std::string::npos) << *listening;
  EXPECT_EQ(count_lines(server, "tokens_loaded"), 0u);
}

TEST_F(TokensReloadTest, AMissingEmptyOrBadFileStopsTheStartWithOneLineAndExitTwo) {
  const std::string missing = (dir_.path() / "absent").string();
  const struct {
    std::string variable;
    std::string path;
    std::string expected;
  } cases[] = {
      {"WRITE_TOKEN_FILE", missing, "storage_api: write token file " + missing + ": cannot read it: No such file"},
      {"READ_TOKEN_FILE", write_file("empty", "# no token yet\n\n"), "storage_api: read token file "},
      {"WRITE_TOKEN_FILE", write_file("bad", std::string(kWriteToken) + " and more\n"),
       "storage_api: write token file "},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.variable + "=" + c.path);
    ServerProcess server({}, {{c.variable, c.path}});
    EXPECT_EQ(server.port(), 0);
    EXPECT_EQ(server.wait_exit(), 2);
    // The constructor returned once stderr closed: every line is in.
    const std::vector<std::string> lines = server.log_lines();
    ASSERT_EQ(lines.size(), 1u) << "expected exactly one line";
    EXPECT_EQ(lines[0].rfind(c.expected, 0), 0u) << lines[0];
    EXPECT_NE(lines[0].find(c.path), std::string::npos) << lines[0];
    EXPECT_EQ(lines[0].find(kWriteToken), std::string::npos) << lines[0];
  }
}

TEST_F(TokensReloadTest, SighupReloadsKeepsTheOldTokensOnABadFileAndKeepsServing) {
  const auto env = token_env();
  ServerProcess server({}, env);
  ASSERT_NE(server.port(), 0);

  // Rotation, step 1: a second write token.
  write_file("write_token", std::string(kWriteToken) + "\n" + std::string(kNextWriteToken) + "\n");
  server.signal(SIGHUP);
  const std::string first = await_nth_line(server, "\"event\":\"tokens_reloaded\"", 1);
  ASSERT_FALSE(first.empty()) << "no tokens_reloaded line after SIGHUP";
  EXPECT_NE(first.find("\"level\":\"info\""), std::string::npos) << first;
  EXPECT_NE(first.find("\"read_tokens\":1,\"write_tokens\":2"), std::string::npos) << first;

  // A broken file: one error line, the process goes on.
  write_file("write_token", "not a token at all\n");
  server.signal(SIGHUP);
  const std::string failed = await_nth_line(server, "\"event\":\"tokens_reload_failed\"", 1);
  ASSERT_FALSE(failed.empty()) << "no tokens_reload_failed line";
  EXPECT_NE(failed.find("\"level\":\"error\""), std::string::npos) << failed;
  EXPECT_NE(failed.find("write token file " + env[1].second + ": line 1: not a token"), std::string::npos) << failed;
  EXPECT_EQ(server.wait_exit(200ms), std::nullopt) << "a failed reload must not end the process";
  EXPECT_TRUE(serves(server.port()));

  // A removed file fails too; then step 2 of the rotation succeeds.
  std::filesystem::remove(env[0].second);
  server.signal(SIGHUP);
  const std::string removed = await_nth_line(server, "\"event\":\"tokens_reload_failed\"", 2);
  EXPECT_NE(removed.find("read token file " + env[0].second + ": cannot read it"), std::string::npos) << removed;
  write_file("read_token", std::string(kReadToken) + "\n");
  write_file("write_token", std::string(kNextWriteToken) + "\n");
  server.signal(SIGHUP);
  const std::string second = await_nth_line(server, "\"event\":\"tokens_reloaded\"", 2);
  EXPECT_NE(second.find("\"read_tokens\":1,\"write_tokens\":1"), std::string::npos) << second;

  EXPECT_TRUE(serves(server.port()));
  expect_no_token_in_log(server);
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(), 0) << "SIGTERM still shuts down";
}

TEST_F(TokensReloadTest, SighupWithoutTokenFilesNoLongerEndsTheProcess) {
  ServerProcess server;
  ASSERT_NE(server.port(), 0);
  server.signal(SIGHUP);
  const std::string reloaded = await_nth_line(server, "\"event\":\"tokens_reloaded\"", 1);
  EXPECT_NE(reloaded.find("\"read_tokens\":0,\"write_tokens\":0"), std::string::npos) << reloaded;
  EXPECT_TRUE(serves(server.port()));
  EXPECT_EQ(count_lines(server, "shutdown_started"), 0u);
  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(), 0);
}

}  // namespace
