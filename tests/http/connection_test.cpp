// The connection state machine without sockets: bytes in, responses out, handler calls in order.
#include "http/connection.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using Clock = http::Connection::Clock;

// Records every call; answers GET with the path as body, PUT by storing the body.
class RecordingHandler final : public http::Handler {
 public:
  void on_request_begin(const http::RequestHead&) override { ++begun; }
  bool precheck(const http::RequestHead& head, http::Response& refusal) override {
    ++prechecked;
    if (head.path == "/refuse") {
      refusal = http::Response::error(404);
      return false;
    }
    return true;
  }
  void handle(const http::RequestHead& head, std::string& body, http::Response& response) override {
    handled.push_back(std::string(http::method_name(head.method)) + " " + std::string(head.path) + " " + body);
    scratch = std::string(head.path);
    response.body = scratch;
    response.content_type = "text/plain";
  }
  void on_request_end() override { ++ended; }
  void on_response(const http::RequestHead* head, int status, std::chrono::nanoseconds) override {
    statuses.push_back(status);
    if (!head) ++unparsed;
  }

  int begun = 0;
  int prechecked = 0;
  int ended = 0;
  int unparsed = 0;
  std::vector<std::string> handled;
  std::vector<int> statuses;
  std::string scratch;
};

class ConnectionTest : public ::testing::Test {
 protected:
  static http::ConnectionLimits small_limits() {
    http::ConnectionLimits limits;
    limits.max_body_bytes = 100;
    return limits;
  }

  void feed(std::string_view bytes) {
    conn_.input().append(bytes);
    conn_.process(Clock::now());
  }
  std::string take_output() {
    std::string out(conn_.output().readable());
    conn_.output().consume(out.size());
    return out;
  }
  static int count(const std::string& text, std::string_view needle) {
    int n = 0;
    for (std::size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
  }

  http::ConnectionLimits limits_ = small_limits();
  RecordingHandler handler_;
  http::DateCache dates_;
  http::Connection conn_{limits_, handler_, dates_};
};

TEST_F(ConnectionTest, AnswersASimpleRequestAndStaysOpen) {
  feed("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string out = take_output();
  EXPECT_EQ(out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << out;
  EXPECT_NE(out.find("Content-Length: 2\r\n"), std::string::npos);
  EXPECT_TRUE(out.ends_with("\r\n\r\n/a"));
  EXPECT_FALSE(conn_.should_close());
  EXPECT_EQ(conn_.phase(), http::Connection::Phase::kIdle);
  EXPECT_EQ(handler_.begun, 1);
  EXPECT_EQ(handler_.ended, 1);
}

TEST_F(ConnectionTest, PipelinedRequestsAreAnsweredInOrderWithBodies) {
  feed("PUT /one HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
       "GET /two HTTP/1.1\r\nHost: x\r\n\r\n"
       "PUT /three HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n");
  ASSERT_EQ(handler_.handled.size(), 3u);
  EXPECT_EQ(handler_.handled[0], "PUT /one abc");
  EXPECT_EQ(handler_.handled[1], "GET /two ");
  EXPECT_EQ(handler_.handled[2], "PUT /three xy");
  const std::string out = take_output();
  EXPECT_EQ(count(out, "HTTP/1.1 200 OK"), 3);
  EXPECT_LT(out.find("/one"), out.find("/two"));
  EXPECT_LT(out.find("/two"), out.find("/three"));
}

TEST_F(ConnectionTest, EveryByteSplitGivesTheSameResult) {
  const std::string stream =
      "PUT /one HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
      "PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;e=1\r\nxyz\r\n0\r\nT: v\r\n\r\n"
      "GET /two HTTP/1.1\r\nHost: x\r\n\r\n";
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    RecordingHandler handler;
    http::Connection conn(limits_, handler, dates_);
    conn.input().append(std::string_view(stream).substr(0, split));
    conn.process(Clock::now());
    conn.input().append(std::string_view(stream).substr(split));
    conn.process(Clock::now());
    ASSERT_EQ(handler.handled.size(), 3u) << "split at " << split;
    EXPECT_EQ(handler.handled[0], "PUT /one abc");
    EXPECT_EQ(handler.handled[1], "PUT /c xyz");
    EXPECT_EQ(handler.handled[2], "GET /two ");
    EXPECT_FALSE(conn.should_close());
  }
}

TEST_F(ConnectionTest, LeadingEmptyLinesAreIgnoredEvenWhenSplit) {
  feed("\r\n\r");
  EXPECT_TRUE(conn_.output().empty());
  feed("\nGET /a HTTP/1.1\r\nHo");
  feed("st: x\r\n\r\n");
  EXPECT_EQ(take_output().rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  ASSERT_EQ(handler_.handled.size(), 1u);
  EXPECT_EQ(handler_.handled[0], "GET /a ");
}

TEST_F(ConnectionTest, ParseErrorIsAnsweredAndCloses) {
  feed("GET /a HTTP/1.1\r\nHost : x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string out = take_output();
  EXPECT_EQ(out.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u);
  EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(count(out, "HTTP/1.1"), 1) << "nothing after a refused head may be answered";
  EXPECT_TRUE(conn_.should_close());
  EXPECT_TRUE(handler_.handled.empty());
  EXPECT_EQ(handler_.unparsed, 1);
}

TEST_F(ConnectionTest, OversizedBodyIsRefusedFromItsLength) {
  feed("PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n");
  EXPECT_EQ(take_output().rfind("HTTP/1.1 413 ", 0), 0u);
  EXPECT_TRUE(conn_.should_close());
  EXPECT_EQ(handler_.prechecked, 0);
  EXPECT_EQ(handler_.begun, handler_.ended);
}

TEST_F(ConnectionTest, PutWithoutLengthIs411) {
  feed("PUT /a HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(take_output().rfind("HTTP/1.1 411 ", 0), 0u);
}

TEST_F(ConnectionTest, UnknownMethodIs501) {
  feed("BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(take_output().rfind("HTTP/1.1 501 ", 0), 0u);
  EXPECT_TRUE(conn_.should_close());
}

TEST_F(ConnectionTest, PrecheckRefusalWithoutBodyKeepsTheConnection) {
  feed("GET /refuse HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string out = take_output();
  EXPECT_EQ(out.rfind("HTTP/1.1 404 ", 0), 0u);
  EXPECT_NE(out.find("HTTP/1.1 200 OK"), std::string::npos);
  EXPECT_FALSE(conn_.should_close());
}

TEST_F(ConnectionTest, PrecheckRefusalWithBodyClosesWithoutReadingIt) {
  feed("PUT /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string out = take_output();
  EXPECT_EQ(count(out, "HTTP/1.1"), 1);
  EXPECT_TRUE(conn_.should_close());
  EXPECT_TRUE(handler_.handled.empty());
}

TEST_F(ConnectionTest, ExpectContinueSendsInterimResponseBeforeBody) {
  feed("PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(take_output(), "HTTP/1.1 100 Continue\r\n\r\n");
  EXPECT_EQ(conn_.phase(), http::Connection::Phase::kBody);
  feed("hi");
  EXPECT_EQ(take_output().rfind("HTTP/1.1 200 OK", 0), 0u);
  ASSERT_EQ(handler_.handled.size(), 1u);
  EXPECT_EQ(handler_.handled[0], "PUT /a hi");
}

TEST_F(ConnectionTest, HeadResponseOmitsBodyButKeepsLength) {
  feed("HEAD /abc HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string out = take_output();
  EXPECT_NE(out.find("Content-Length: 4\r\n"), std::string::npos);
  EXPECT_TRUE(out.ends_with("\r\n\r\n"));
}

TEST_F(ConnectionTest, Http10ClosesByDefaultAndKeepsAliveOnRequest) {
  feed("GET /a HTTP/1.0\r\n\r\n");
  EXPECT_NE(take_output().find("Connection: close\r\n"), std::string::npos);
  EXPECT_TRUE(conn_.should_close());

  RecordingHandler handler;
  http::Connection keep(limits_, handler, dates_);
  keep.input().append("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  keep.process(Clock::now());
  EXPECT_NE(keep.output().readable().find("Connection: keep-alive\r\n"), std::string::npos);
  EXPECT_FALSE(keep.should_close());
}

TEST_F(ConnectionTest, OnlyARefusalAsksForAGracefulClose) {
  feed("GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(conn_.should_close());
  EXPECT_FALSE(conn_.close_may_leave_unread_input()) << "the client asked to close: nothing left to drain";

  RecordingHandler handler;
  http::Connection refused(limits_, handler, dates_);
  refused.input().append("PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n");
  refused.process(Clock::now());
  EXPECT_TRUE(refused.should_close());
  EXPECT_TRUE(refused.close_may_leave_unread_input()) << "the 413'd body may still be arriving";
}

TEST_F(ConnectionTest, TimeoutInHeadAnswers408) {
  feed("GET /a HTTP/1.1\r\nHo");
  EXPECT_EQ(conn_.phase(), http::Connection::Phase::kHead);
  conn_.on_timeout();
  EXPECT_EQ(take_output().rfind("HTTP/1.1 408 ", 0), 0u);
  EXPECT_TRUE(conn_.should_close());
}

TEST_F(ConnectionTest, TimeoutInBodyAnswers408AndEndsTheRequest) {
  feed("PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
  EXPECT_EQ(conn_.phase(), http::Connection::Phase::kBody);
  conn_.on_timeout();
  EXPECT_EQ(take_output().rfind("HTTP/1.1 408 ", 0), 0u);
  EXPECT_EQ(handler_.begun, 1);
  EXPECT_EQ(handler_.ended, 1);
  EXPECT_TRUE(handler_.handled.empty());
}

TEST_F(ConnectionTest, TimeoutWhenIdleClosesSilently) {
  conn_.on_timeout();
  EXPECT_TRUE(conn_.output().empty());
  EXPECT_TRUE(conn_.should_close());
}

TEST_F(ConnectionTest, PeerCloseAnswersCompleteRequestsAndAbandonsPartialOnes) {
  conn_.input().append("GET /done HTTP/1.1\r\nHost: x\r\n\r\nPUT /partial HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nab");
  conn_.on_peer_closed(Clock::now());
  EXPECT_EQ(count(take_output(), "HTTP/1.1 200"), 1);
  EXPECT_TRUE(conn_.should_close());
  EXPECT_EQ(handler_.begun, 2);
  EXPECT_EQ(handler_.ended, 2);
}

TEST_F(ConnectionTest, DrainClosesIdleAtOnceAndBusyAfterTheResponse) {
  conn_.begin_drain();
  EXPECT_TRUE(conn_.should_close());

  RecordingHandler handler;
  http::Connection busy(limits_, handler, dates_);
  busy.input().append("PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n");
  busy.process(Clock::now());
  busy.begin_drain();
  EXPECT_FALSE(busy.should_close());
  busy.input().append("ok");
  busy.process(Clock::now());
  EXPECT_NE(busy.output().readable().find("Connection: close\r\n"), std::string::npos);
  EXPECT_TRUE(busy.should_close());
}

TEST_F(ConnectionTest, OutputWatermarkPausesPipelinedParsing) {
  limits_.output_high_watermark = 64;
  RecordingHandler handler;
  http::Connection conn(limits_, handler, dates_);
  std::string many;
  for (int i = 0; i < 10; ++i) many += "GET /x HTTP/1.1\r\nHost: x\r\n\r\n";
  conn.input().append(many);
  conn.process(Clock::now());
  EXPECT_EQ(handler.handled.size(), 1u) << "one response already exceeds the watermark";
  EXPECT_FALSE(conn.wants_input());
  while (handler.handled.size() < 10) {
    conn.output().consume(conn.output().size());
    conn.process(Clock::now());
  }
  EXPECT_EQ(handler.handled.size(), 10u);
}

TEST_F(ConnectionTest, DestroyingMidRequestEndsIt) {
  {
    RecordingHandler handler;
    {
      http::Connection conn(limits_, handler, dates_);
      conn.input().append("PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n");
      conn.process(Clock::now());
      EXPECT_EQ(handler.begun, 1);
      EXPECT_EQ(handler.ended, 0);
    }
    EXPECT_EQ(handler.ended, 1);
  }
}

}  // namespace
