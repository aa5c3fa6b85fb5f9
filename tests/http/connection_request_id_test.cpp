// Request ids through http::Connection: taken or generated per request, returned on the response, reported
// in the record, kept across a deferred answer, and absent when the connection has no generator.
#include <gtest/gtest.h>

#include <string>

#include "connection_driver.h"
#include "http/request_id.h"

namespace {

using http_test::Driver;

constexpr std::string_view kTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

class ConnectionRequestIdTest : public ::testing::Test {
 protected:
  ConnectionRequestIdTest() { config_.request_ids = &generator_; }

  http::RequestIdGenerator generator_{42};
  http::ConnectionConfig config_ = http_test::small_config();
  http_test::RecordingHandler handler_;
};

// The value of the first `name` field in a response head, or "" (names as the server spells them).
std::string field(const std::string& response, const std::string& name) {
  const std::size_t at = response.find("\r\n" + name + ": ");
  if (at == std::string::npos) return "";
  const std::size_t start = at + name.size() + 4;
  return response.substr(start, response.find("\r\n", start) - start);
}

TEST_F(ConnectionRequestIdTest, AGivenRequestIdIsEchoedAndRecorded) {
  Driver d(config_, handler_);
  d.deliver("GET /a HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc-123\r\n\r\n");
  const std::string out = d.write();
  EXPECT_EQ(field(out, "X-Request-Id"), "abc-123");
  ASSERT_EQ(handler_.records.size(), 1u);
  EXPECT_EQ(handler_.records[0].request_id, "abc-123");
}

TEST_F(ConnectionRequestIdTest, ATraceparentIsContinuedWithOurSpan) {
  Driver d(config_, handler_);
  d.deliver("GET /a HTTP/1.1\r\nHost: x\r\ntraceparent: " + std::string(kTraceparent) + "\r\n\r\n");
  const std::string out = d.write();
  const std::string echoed = field(out, "traceparent");
  ASSERT_EQ(echoed.size(), http::kTraceparentBytes);
  EXPECT_EQ(echoed.substr(0, 36), std::string(kTraceparent.substr(0, 36)));
  EXPECT_NE(echoed.substr(36, 16), "00f067aa0ba902b7");
  EXPECT_EQ(field(out, "X-Request-Id"), "");
  ASSERT_EQ(handler_.records.size(), 1u);
  EXPECT_EQ(handler_.records[0].request_id, "4bf92f3577b34da6a3ce929d0e0e4736");
}

TEST_F(ConnectionRequestIdTest, EachRequestWithoutOneGetsItsOwn) {
  Driver d(config_, handler_);
  d.deliver("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\nX-Request-Id: mine\r\n\r\n"
            "GET /c HTTP/1.1\r\nHost: x\r\n\r\n");
  d.write();
  ASSERT_EQ(handler_.records.size(), 3u);
  EXPECT_EQ(handler_.records[0].request_id.size(), 32u);
  EXPECT_EQ(handler_.records[1].request_id, "mine");
  EXPECT_EQ(handler_.records[2].request_id.size(), 32u);
  EXPECT_NE(handler_.records[0].request_id, handler_.records[2].request_id);
}

TEST_F(ConnectionRequestIdTest, ADeferredAnswerKeepsItsRequestsId) {
  Driver d(config_, handler_);
  d.deliver("GET /defer HTTP/1.1\r\nHost: x\r\nX-Request-Id: later\r\n\r\n");
  ASSERT_EQ(handler_.pending.size(), 1u);
  http::Response response;
  response.body = "done";
  handler_.pending[0].complete(response);
  d.advance();
  const std::string out = d.write();
  EXPECT_EQ(field(out, "X-Request-Id"), "later");
  ASSERT_EQ(handler_.records.size(), 1u);
  EXPECT_EQ(handler_.records[0].request_id, "later");
}

TEST_F(ConnectionRequestIdTest, AnUnparsableHeadHasNone) {
  Driver d(config_, handler_);
  d.deliver("GET /a HTTP/1.1\r\nBad Header\r\n\r\n");
  const std::string out = d.write();
  EXPECT_EQ(out.substr(0, 12), "HTTP/1.1 400");
  EXPECT_EQ(field(out, "X-Request-Id"), "");
  ASSERT_EQ(handler_.records.size(), 1u);
  EXPECT_EQ(handler_.records[0].request_id, "");
}

TEST(ConnectionWithoutRequestIds, SendsNoIdField) {
  const http::ConnectionConfig config = http_test::small_config();
  http_test::RecordingHandler handler;
  Driver d(config, handler);
  d.deliver("GET /a HTTP/1.1\r\nHost: x\r\nX-Request-Id: abc\r\n\r\n");
  const std::string out = d.write();
  EXPECT_EQ(field(out, "X-Request-Id"), "");
  ASSERT_EQ(handler.records.size(), 1u);
  EXPECT_EQ(handler.records[0].request_id, "");
}

}  // namespace
