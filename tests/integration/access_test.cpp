// Bearer-token access end to end: tokens required where configured, wrong ones refused, rotation by
// SIGHUP, and no token asked for where none is configured.
#include <gtest/gtest.h>

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "harness.h"

namespace {

using harness::Client;
using harness::ServerProcess;

class TokenFile {
 public:
  explicit TokenFile(const std::string& contents) {
    char pattern[] = "/tmp/storage_api_token_XXXXXX";
    const int fd = mkstemp(pattern);
    EXPECT_GE(fd, 0);
    if (fd >= 0) close(fd);
    path_ = pattern;
    write(contents);
  }
  ~TokenFile() { unlink(path_.c_str()); }
  void write(const std::string& contents) const {
    // Replaced whole by a rename, as a Secret update is: the server never reads half a file.
    const std::string temp = path_ + ".new";
    std::ofstream(temp, std::ios::trunc) << contents;
    ASSERT_EQ(std::rename(temp.c_str(), path_.c_str()), 0);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string bearer(const std::string& token) { return "Authorization: Bearer " + token + "\r\n"; }

TEST(AccessTest, WritesNeedTheWriteTokenAndReadsTheReadOrWriteToken) {
  const TokenFile writes("write-token-1\n");
  const TokenFile reads("read-token-1\n");
  ServerProcess server({}, {{"WRITE_TOKEN_FILE", writes.path()}, {"READ_TOKEN_FILE", reads.path()}});
  ASSERT_NE(server.port(), 0);
  Client c(server.port());

  auto anonymous = c.request("PUT", "/api/buckets/secret", "v");
  EXPECT_EQ(anonymous->status, 401);
  EXPECT_EQ(anonymous->header("www-authenticate"), R"(Bearer realm="storage_api")");
  EXPECT_EQ(anonymous->body, R"({"error": "unauthorized"})");

  Client c2(server.port());
  auto wrong = c2.request("PUT", "/api/buckets/secret", "v", bearer("write-token-2"));
  EXPECT_EQ(wrong->status, 401);
  EXPECT_EQ(wrong->header("www-authenticate"), R"(Bearer realm="storage_api", error="invalid_token")");

  Client c3(server.port());
  EXPECT_EQ(c3.request("PUT", "/api/buckets/secret", "v", bearer("read-token-1"))->status, 401)
      << "a read token does not allow writes";
  Client c4(server.port());
  EXPECT_EQ(c4.request("PUT", "/api/buckets/secret", "value", bearer("write-token-1"))->status, 200);
  EXPECT_EQ(c4.request("GET", "/api/buckets/secret")->status, 401);
  EXPECT_EQ(c4.request("GET", "/api/buckets/secret", {}, bearer("read-token-1"))->body, "value");
  EXPECT_EQ(c4.request("HEAD", "/api/buckets/secret", {}, bearer("write-token-1"))->status, 200)
      << "a write token also reads";
  EXPECT_EQ(c4.request("GET", "/api/buckets/secret", {}, "Authorization: bearer read-token-1\r\n")->status, 200)
      << "the scheme is case-insensitive";
  EXPECT_EQ(c4.request("DELETE", "/api/buckets/secret", {}, bearer("read-token-1"))->status, 401);
  EXPECT_EQ(c4.request("GET", "/metrics")->status, 200) << "metrics stay open";
  EXPECT_TRUE(harness::await_metric(
      server.port(), R"(http_request_duration_seconds_count{method="PUT",path="/api/buckets/{id}",status="401"})", 3))
      << "the three refused PUTs are counted under their own status label";
  EXPECT_EQ(c4.request("GET", "/healthz")->status, 200);

  for (const std::string& line : server.log_lines()) {
    EXPECT_EQ(line.find("token-1"), std::string::npos) << "a token reached the log: " << line;
    EXPECT_EQ(line.find("token-2"), std::string::npos) << "a token reached the log: " << line;
  }
}

TEST(AccessTest, AnUnauthenticatedUploadIsRefusedBeforeItsBodyIsRead) {
  const TokenFile writes("write-token\n");
  ServerProcess server({}, {{"WRITE_TOKEN_FILE", writes.path()}});
  Client c(server.port());
  // Only the head is sent: the answer cannot wait for a body the server will not take.
  ASSERT_TRUE(c.send("PUT /api/buckets/big HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"));
  auto answer = c.read_response();
  EXPECT_EQ(answer->status, 401);
  EXPECT_TRUE(c.wait_closed());
}

TEST(AccessTest, SighupRotatesTokensWithoutARestart) {
  const TokenFile writes("old-token\n");
  ServerProcess server({}, {{"WRITE_TOKEN_FILE", writes.path()}});
  ASSERT_NE(server.port(), 0);
  Client c(server.port());
  EXPECT_EQ(c.request("PUT", "/api/buckets/r", "1", bearer("old-token"))->status, 200);

  // Rotation: both tokens are valid while clients move over, then only the new one.
  writes.write("old-token\nnew-token\n");
  server.signal(SIGHUP);
  ASSERT_TRUE(server.wait_for_log("tokens_reloaded"));
  EXPECT_EQ(c.request("PUT", "/api/buckets/r", "2", bearer("new-token"))->status, 200);
  EXPECT_EQ(c.request("PUT", "/api/buckets/r", "3", bearer("old-token"))->status, 200);

  writes.write("new-token\n");
  server.signal(SIGHUP);
  ASSERT_TRUE(harness::eventually([&] {
    Client probe(server.port());
    return probe.request("PUT", "/api/buckets/r", "4", bearer("old-token"))->status == 401;
  }));
  EXPECT_EQ(c.request("PUT", "/api/buckets/r", "5", bearer("new-token"))->status, 200);

  // A bad file on reload keeps the tokens in force.
  writes.write("\n");
  server.signal(SIGHUP);
  ASSERT_TRUE(server.wait_for_log("tokens_reload_failed"));
  EXPECT_EQ(c.request("PUT", "/api/buckets/r", "6", bearer("new-token"))->status, 200);
  EXPECT_EQ(c.request("GET", "/api/buckets/r")->body, "6") << "reads need no token when no read file is set";
}

TEST(AccessTest, WithoutTokenFilesNothingIsAskedFor) {
  ServerProcess server;
  Client c(server.port());
  EXPECT_EQ(c.request("PUT", "/api/buckets/open", "v")->status, 200);
  EXPECT_EQ(c.request("GET", "/api/buckets/open")->status, 200);
  EXPECT_EQ(c.request("DELETE", "/api/buckets/open", {}, bearer("anything"))->status, 200);
}

}  // namespace
