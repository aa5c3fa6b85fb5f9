// Deferred responses: a handler may answer later, from another event; answers keep request order.
#include <gtest/gtest.h>

#include <string>

#include "http/connection.h"
#include "http/connection_driver.h"

namespace {

using http::SocketAction;
using http_test::count;
using http_test::Driver;
using http_test::RecordingHandler;

http::Response text(int status, std::string_view body) {
  http::Response response;
  response.status = status;
  response.body = body;
  return response;
}

class ConnectionDeferredTest : public ::testing::Test {
 protected:
  http::ConnectionConfig config_ = http_test::small_config();
  RecordingHandler handler_;
  Driver d_{config_, handler_};
};

TEST_F(ConnectionDeferredTest, ADeferredAnswerComesLaterAndKeepsPipelinedOrder) {
  int wakes = 0;
  d_.conn.set_wake([&] { ++wakes; });
  d_.deliver("PUT /defer HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nokGET /after HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(handler_.pending.size(), 1u);
  EXPECT_EQ(handler_.handled.size(), 1u) << "the next request waits for the deferred answer";
  EXPECT_FALSE(d_.last.write);
  EXPECT_FALSE(d_.last.read) << "nothing more is read while an answer is pending";
  EXPECT_EQ(handler_.ended, 0) << "still in flight";

  handler_.pending[0].complete(text(200, "done"));
  EXPECT_EQ(wakes, 1);
  EXPECT_EQ(handler_.ended, 1);
  d_.advance();
  ASSERT_EQ(handler_.handled.size(), 2u);
  const std::string out = d_.write();
  EXPECT_EQ(count(out, "HTTP/1.1 200 OK"), 2);
  EXPECT_LT(out.find("done"), out.find("/after")) << out;
  ASSERT_EQ(handler_.records.size(), 2u);
  EXPECT_EQ(handler_.records[0].method_token, "PUT");
  EXPECT_EQ(handler_.records[0].target, "/defer");
  EXPECT_EQ(handler_.records[0].tag, 7u);
}

TEST_F(ConnectionDeferredTest, CompletingTwiceOrAfterTheConnectionWentDoesNothing) {
  http::PendingResponse kept;
  {
    RecordingHandler handler;
    Driver d(config_, handler);
    d.deliver("GET /defer HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(handler.pending.size(), 1u);
    kept = handler.pending[0];
    EXPECT_TRUE(kept.connection_alive());
  }
  EXPECT_FALSE(kept.connection_alive());
  kept.complete(text(200, "late"));  // must not touch the destroyed connection

  d_.deliver("GET /defer HTTP/1.1\r\nHost: x\r\n\r\n");
  handler_.pending.at(0).complete(text(201, "first"));
  handler_.pending.at(0).complete(text(202, "second"));
  const std::string out = d_.write();
  EXPECT_EQ(count(out, "HTTP/1.1"), 1);
  EXPECT_NE(out.find("first"), std::string::npos);
}

TEST_F(ConnectionDeferredTest, APeerThatLeavesStillGetsItsAnswerWrittenThenClosed) {
  d_.deliver("GET /defer HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(d_.close_input().action, SocketAction::kKeep) << "the answer is still owed";
  handler_.pending.at(0).complete(text(200, "bye"));
  d_.advance();
  EXPECT_NE(d_.write().find("bye"), std::string::npos);
  EXPECT_EQ(d_.last.action, SocketAction::kClose);
}

TEST_F(ConnectionDeferredTest, ADeferredHeadRequestStillOmitsItsBody) {
  d_.deliver("HEAD /defer HTTP/1.1\r\nHost: x\r\n\r\n");
  handler_.pending.at(0).complete(text(200, "abcd"));
  const std::string out = d_.write();
  EXPECT_NE(out.find("Content-Length: 4\r\n"), std::string::npos);
  EXPECT_TRUE(out.ends_with("\r\n\r\n"));
}

}  // namespace
