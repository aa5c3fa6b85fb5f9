// Object semantics end to end (RFC 9110): ETags and Last-Modified, conditional requests, byte ranges and
// content types, against the real binary on an ephemeral loopback port.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace {

using harness::Client;
using harness::ServerProcess;

class ObjectsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new ServerProcess(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_->port(), 0) << "server did not report its port"; }
  Client client() { return Client(server_->port()); }
  // PUTs `body` under `id` and returns the answer's ETag.
  std::string put(const std::string& id, const std::string& body, const std::string& headers = {}) {
    Client c = client();
    auto answer = c.request("PUT", "/api/buckets/" + id, body, headers);
    EXPECT_EQ(answer->status, 200) << id;
    return answer->header("etag");
  }

  static ServerProcess* server_;
};
ServerProcess* ObjectsTest::server_ = nullptr;

bool is_strong_etag(const std::string& tag) {
  if (tag.size() != 18 || tag.front() != '"' || tag.back() != '"') return false;
  return tag.find_first_not_of("0123456789abcdef", 1) == 17;
}

TEST_F(ObjectsTest, PutGetAndHeadCarryTheSameStrongEtagDerivedFromTheContent) {
  const std::string etag = put("etag-a", "same bytes");
  EXPECT_TRUE(is_strong_etag(etag)) << etag;
  EXPECT_EQ(put("etag-b", "same bytes"), etag) << "the tag is derived from the content alone";
  EXPECT_NE(put("etag-c", "other bytes"), etag);
  Client c = client();
  auto get = c.request("GET", "/api/buckets/etag-a");
  EXPECT_EQ(get->header("etag"), etag);
  EXPECT_EQ(get->header("accept-ranges"), "bytes");
  EXPECT_FALSE(get->header("last-modified").empty());
  auto head = c.request("HEAD", "/api/buckets/etag-a");
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("etag"), etag);
  EXPECT_EQ(head->header("content-length"), "10");
  EXPECT_EQ(head->header("last-modified"), get->header("last-modified"));
}

TEST_F(ObjectsTest, IfNoneMatchWithAListAnswers304WithoutABody) {
  const std::string etag = put("inm", "cached");
  Client c = client();
  auto hit = c.request("GET", "/api/buckets/inm", {}, "If-None-Match: \"0000000000000000\", W/" + etag + "\r\n");
  EXPECT_EQ(hit->status, 304) << "weak comparison: W/ matches";
  EXPECT_EQ(hit->body, "");
  EXPECT_FALSE(hit->has_header("content-length"));
  EXPECT_EQ(hit->header("etag"), etag);
  // The connection stays in sync: a 304 sent no body bytes.
  auto next = c.request("GET", "/api/buckets/inm");
  EXPECT_EQ(next->status, 200);
  EXPECT_EQ(next->body, "cached");
  EXPECT_EQ(c.request("GET", "/api/buckets/inm", {}, "If-None-Match: *\r\n")->status, 304);
  EXPECT_EQ(c.request("HEAD", "/api/buckets/inm", {}, "If-None-Match: " + etag + "\r\n")->status, 304);
  auto miss = c.request("GET", "/api/buckets/inm", {}, "If-None-Match: \"0000000000000000\"\r\n");
  EXPECT_EQ(miss->status, 200);
  EXPECT_EQ(miss->body, "cached");
  EXPECT_EQ(c.request("GET", "/api/buckets/inm", {}, "If-None-Match: not-a-tag\r\n")->status, 400);
}

TEST_F(ObjectsTest, IfModifiedSinceAnswers304UnlessIfNoneMatchSaysOtherwise) {
  put("ims", "dated");
  Client c = client();
  const std::string modified = c.request("GET", "/api/buckets/ims")->header("last-modified");
  EXPECT_EQ(c.request("GET", "/api/buckets/ims", {}, "If-Modified-Since: " + modified + "\r\n")->status, 304);
  EXPECT_EQ(c.request("GET", "/api/buckets/ims", {}, "If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n")->status,
            200);
  EXPECT_EQ(c.request("GET", "/api/buckets/ims", {}, "If-Modified-Since: yesterday\r\n")->status, 200)
      << "an invalid date is ignored";
  // If-None-Match takes precedence: a non-matching tag means modified, whatever the date says.
  EXPECT_EQ(c.request("GET", "/api/buckets/ims", {},
                      "If-None-Match: \"0000000000000000\"\r\nIf-Modified-Since: " + modified + "\r\n")
                ->status,
            200);
}

TEST_F(ObjectsTest, CurlTimeConditionGets304) {
  if (std::system("command -v curl >/dev/null 2>&1") != 0) GTEST_SKIP() << "curl is not installed";
  put("curl-z", "for curl");
  const std::string url = "http://127.0.0.1:" + std::to_string(server_->port()) + "/api/buckets/curl-z";
  auto status_of = [&url](const std::string& args) {
    const std::string command = "curl -s -o /dev/null -w '%{http_code}' " + args + " '" + url + "'";
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return std::string();
    char text[16] = {};
    const std::size_t n = std::fread(text, 1, sizeof text - 1, pipe);
    pclose(pipe);
    return std::string(text, n);
  };
  EXPECT_EQ(status_of("-z 'Sat, 01 Jan 2000 00:00:00 GMT'"), "200");
  EXPECT_EQ(status_of("-z 'Fri, 01 Jan 2100 00:00:00 GMT'"), "304") << "modified before that date";
}

TEST_F(ObjectsTest, IfMatchWithAStaleEtagIsRefusedAndChangesNothing) {
  const std::string first = put("if-match", "version 1");
  const std::string second = put("if-match", "version 2", "If-Match: " + first + "\r\n");
  EXPECT_NE(second, first);
  Client c = client();
  auto stale = c.request("PUT", "/api/buckets/if-match", "version 3", "If-Match: " + first + "\r\n");
  EXPECT_EQ(stale->status, 412);
  EXPECT_EQ(stale->body, R"({"error": "precondition failed"})");
  EXPECT_EQ(c.request("GET", "/api/buckets/if-match")->body, "version 2");
  EXPECT_EQ(c.request("DELETE", "/api/buckets/if-match", {}, "If-Match: " + first + "\r\n")->status, 412);
  EXPECT_EQ(c.request("DELETE", "/api/buckets/if-match", {}, "If-Match: W/" + second + "\r\n")->status, 412)
      << "If-Match compares strongly: a weak tag never matches";
  EXPECT_EQ(c.request("DELETE", "/api/buckets/if-match", {}, "If-Match: " + second + "\r\n")->status, 200);
  EXPECT_EQ(c.request("PUT", "/api/buckets/if-match", "x", "If-Match: *\r\n")->status, 412)
      << "* on a missing id";
  EXPECT_EQ(c.request("DELETE", "/api/buckets/if-match", {}, "If-Match: *\r\n")->status, 400)
      << "an unknown id stays 400: preconditions apply only where the answer would be 2xx";
}

TEST_F(ObjectsTest, IfNoneMatchStarMakesAPutCreateOnly) {
  Client c = client();
  EXPECT_EQ(c.request("PUT", "/api/buckets/create-only", "first", "If-None-Match: *\r\n")->status, 200);
  EXPECT_EQ(c.request("PUT", "/api/buckets/create-only", "second", "If-None-Match: *\r\n")->status, 412);
  EXPECT_EQ(c.request("GET", "/api/buckets/create-only")->body, "first");
}

TEST_F(ObjectsTest, OfTwoRacingConditionalPutsExactlyOneWins) {
  for (int round = 0; round < 20; ++round) {
    const std::string id = "race-" + std::to_string(round);
    const std::string etag = put(id, "base");
    std::atomic<int> won{0};
    std::atomic<int> refused{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < 2; ++w) {
      writers.emplace_back([&, w] {
        Client c = client();
        const auto answer = c.request("PUT", "/api/buckets/" + id, "writer " + std::to_string(w),
                                      "If-Match: " + etag + "\r\n");
        if (answer->status == 200) ++won;
        if (answer->status == 412) ++refused;
      });
    }
    for (std::thread& t : writers) t.join();
    EXPECT_EQ(won.load(), 1) << "round " << round;
    EXPECT_EQ(refused.load(), 1) << "round " << round;
  }
}

TEST_F(ObjectsTest, SingleRangesAnswer206WithContentRange) {
  put("range", "0123456789");
  Client c = client();
  auto first = c.request("GET", "/api/buckets/range", {}, "Range: bytes=0-0\r\n");
  EXPECT_EQ(first->status, 206);
  EXPECT_EQ(first->body, "0");
  EXPECT_EQ(first->header("content-range"), "bytes 0-0/10");
  auto last = c.request("GET", "/api/buckets/range", {}, "Range: bytes=-1\r\n");
  EXPECT_EQ(last->status, 206);
  EXPECT_EQ(last->body, "9");
  EXPECT_EQ(last->header("content-range"), "bytes 9-9/10");
  auto open_ended = c.request("GET", "/api/buckets/range", {}, "Range: bytes=7-\r\n");
  EXPECT_EQ(open_ended->body, "789");
  auto clipped = c.request("GET", "/api/buckets/range", {}, "Range: bytes=8-100\r\n");
  EXPECT_EQ(clipped->body, "89");
  EXPECT_EQ(clipped->header("content-range"), "bytes 8-9/10");
  auto past = c.request("GET", "/api/buckets/range", {}, "Range: bytes=10-\r\n");
  EXPECT_EQ(past->status, 416);
  EXPECT_EQ(past->header("content-range"), "bytes */10");
  auto several = c.request("GET", "/api/buckets/range", {}, "Range: bytes=0-1, 4-5\r\n");
  EXPECT_EQ(several->status, 200);
  EXPECT_EQ(several->body, "0123456789");
  auto head = c.request("HEAD", "/api/buckets/range", {}, "Range: bytes=0-1\r\n");
  EXPECT_EQ(head->status, 200) << "range handling is defined for GET only";
  EXPECT_EQ(head->header("content-length"), "10");
  auto next = c.request("GET", "/api/buckets/range");
  EXPECT_EQ(next->body, "0123456789") << "the connection stayed in sync";
}

TEST_F(ObjectsTest, IfRangeServesTheRangeOnlyForTheCurrentVersion) {
  const std::string etag = put("if-range", "abcdef");
  Client c = client();
  auto current = c.request("GET", "/api/buckets/if-range", {}, "Range: bytes=1-2\r\nIf-Range: " + etag + "\r\n");
  EXPECT_EQ(current->status, 206);
  EXPECT_EQ(current->body, "bc");
  auto stale = c.request("GET", "/api/buckets/if-range", {}, "Range: bytes=1-2\r\nIf-Range: \"0000000000000000\"\r\n");
  EXPECT_EQ(stale->status, 200);
  EXPECT_EQ(stale->body, "abcdef");
  const std::string modified = current->header("last-modified");
  auto by_date = c.request("GET", "/api/buckets/if-range", {}, "Range: bytes=1-2\r\nIf-Range: " + modified + "\r\n");
  EXPECT_EQ(by_date->status, 206);
}

TEST_F(ObjectsTest, ALargeValueIsServedInRangesFromItsStoredBytes) {
  std::string value(3 * 1024 * 1024, '\0');
  for (std::size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>('a' + i % 23);
  put("large-range", value);
  Client c = client();
  const std::size_t from = 1024 * 1024 + 7;
  const std::size_t to = 2 * 1024 * 1024 + 3;
  auto part = c.request("GET", "/api/buckets/large-range", {},
                        "Range: bytes=" + std::to_string(from) + "-" + std::to_string(to) + "\r\n");
  EXPECT_EQ(part->status, 206);
  EXPECT_TRUE(part->body == value.substr(from, to - from + 1));
}

TEST_F(ObjectsTest, ContentTypeRoundTripsAndIsValidated) {
  put("typed", "{\"a\": 1}", "Content-Type: application/json; charset=utf-8\r\n");
  Client c = client();
  EXPECT_EQ(c.request("GET", "/api/buckets/typed")->header("content-type"), "application/json; charset=utf-8");
  EXPECT_EQ(c.request("HEAD", "/api/buckets/typed")->header("content-type"), "application/json; charset=utf-8");
  put("untyped", "raw");
  EXPECT_EQ(c.request("GET", "/api/buckets/untyped")->header("content-type"), "application/octet-stream");
  auto bad = client().request("PUT", "/api/buckets/typed", "x", "Content-Type: not a type\r\n");
  EXPECT_EQ(bad->status, 400);
  auto long_type = client().request("PUT", "/api/buckets/typed", "x",
                                    "Content-Type: text/" + std::string(300, 'a') + "\r\n");
  EXPECT_EQ(long_type->status, 400);
  EXPECT_EQ(c.request("GET", "/api/buckets/typed")->body, "{\"a\": 1}") << "a refused PUT changes nothing";
}

TEST_F(ObjectsTest, NewStatusesHaveTheirOwnMetricLabels) {
  put("labels", "0123");
  Client c = client();
  const std::string etag = c.request("GET", "/api/buckets/labels")->header("etag");
  EXPECT_EQ(c.request("GET", "/api/buckets/labels", {}, "If-None-Match: " + etag + "\r\n")->status, 304);
  EXPECT_EQ(c.request("GET", "/api/buckets/labels", {}, "Range: bytes=1-2\r\n")->status, 206);
  EXPECT_EQ(c.request("GET", "/api/buckets/labels", {}, "Range: bytes=9-\r\n")->status, 416);
  EXPECT_EQ(c.request("PUT", "/api/buckets/labels", "x", "If-Match: \"0000000000000000\"\r\n")->status, 412);
  const std::string text = harness::scrape(server_->port());
  for (const char* status : {"304", "206", "416", "412"}) {
    const std::string series = std::string("http_request_duration_seconds_count{method=\"") +
                               (std::string(status) == "412" ? "PUT" : "GET") +
                               "\",path=\"/api/buckets/{id}\",status=\"" + status + "\"}";
    const auto value = harness::metric_value(text, series);
    ASSERT_TRUE(value.has_value()) << series;
    EXPECT_GE(*value, 1.0) << series;
  }
}

}  // namespace
