// SHARD_NAME with the real binary: a bucket request the router meant for another shard (its
// X-Storage-Shard header names another) is answered 421 and changes nothing — before its body for a PUT
// that waits for 100 Continue — while requests meant for this shard, or without the header, are served.
#include <gtest/gtest.h>

#include <string>

#include "harness.h"

namespace {

using harness::Client;
using harness::ServerProcess;

constexpr std::string_view kMine = "X-Storage-Shard: storage-api-1\r\n";
constexpr std::string_view kOther = "X-Storage-Shard: storage-api-0\r\n";

TEST(ShardNameTest, RequestsMeantForAnotherShardAre421AndChangeNothing) {
  ServerProcess server({}, {{"SHARD_NAME", "storage-api-1"}});
  Client c(server.port());
  ASSERT_EQ(c.request("PUT", "/api/buckets/k", "original", kMine)->status, 200);
  EXPECT_EQ(c.request("GET", "/api/buckets/k", {}, kMine)->body, "original");
  EXPECT_EQ(c.request("GET", "/api/buckets/k")->body, "original") << "no header: an operator's direct request";

  const auto get = c.request("GET", "/api/buckets/k", {}, kOther);
  EXPECT_EQ(get->status, 421);
  EXPECT_EQ(get->body, R"({"error": "misdirected request"})");
  EXPECT_EQ(c.request("GET", "/api/buckets/absent", {}, kOther)->status, 421) << "never a 404 for another's id";
  EXPECT_EQ(c.request("DELETE", "/api/buckets/k", {}, kOther)->status, 421);
  // A refused body is not read, so each PUT has a connection of its own.
  EXPECT_EQ(Client(server.port()).request("PUT", "/api/buckets/k", "overwritten", kOther)->status, 421);
  EXPECT_EQ(Client(server.port()).request("PUT", "/api/buckets/new", "stray", kOther)->status, 421);
  Client check(server.port());
  EXPECT_EQ(check.request("GET", "/api/buckets/k")->body, "original");
  EXPECT_EQ(check.request("GET", "/api/buckets/new")->status, 404);

  // A PUT waiting for 100 Continue is refused before its body is sent.
  Client waiting(server.port());
  ASSERT_TRUE(waiting.send("PUT /api/buckets/k HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n" +
                     std::string(kOther) + "\r\n"));
  const auto early = waiting.read_response();
  EXPECT_EQ(early->status, 421);
  EXPECT_EQ(harness::metric_value(harness::scrape(server.port()), R"(storage_api_refusals_total{reason="misdirected"})"), 6);
}

TEST(ShardNameTest, WithoutAShardNameTheHeaderIsIgnored) {
  ServerProcess server;
  Client c(server.port());
  ASSERT_EQ(c.request("PUT", "/api/buckets/k", "v", kOther)->status, 200);
  EXPECT_EQ(c.request("GET", "/api/buckets/k", {}, kMine)->body, "v");
}

TEST(ShardNameTest, AnInvalidShardNameStopsTheStart) {
  ServerProcess server({}, {{"SHARD_NAME", "shard/1"}});
  EXPECT_EQ(server.wait_exit(), 2);
}

}  // namespace
