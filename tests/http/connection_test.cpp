// The connection state machine without sockets: bytes in, responses out, handler calls in order, and the
// directive that tells the socket owner what to do.
#include "http/connection.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "http/connection_driver.h"

namespace {

using namespace std::chrono_literals;
using http::SocketAction;
using http_test::count;
using http_test::Driver;
using http_test::RecordingHandler;

class ConnectionTest : public ::testing::Test {
 protected:
  http::ConnectionConfig config_ = http_test::small_config();
  RecordingHandler handler_;
  Driver d_{config_, handler_};
};

TEST_F(ConnectionTest, AnswersASimpleRequestAndStaysOpen) {
  d_.deliver("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(d_.last.write);
  const std::string out = d_.write();
  EXPECT_EQ(out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << out;
  EXPECT_NE(out.find("Content-Length: 2\r\n"), std::string::npos);
  EXPECT_NE(out.find("Date: Tue, 14 Nov 2023 22:13:20 GMT\r\n"), std::string::npos) << "the owner's clock";
  EXPECT_TRUE(out.ends_with("\r\n\r\n/a"));
  EXPECT_EQ(d_.last.action, SocketAction::kKeep);
  EXPECT_TRUE(d_.last.read);
  EXPECT_FALSE(d_.last.write);
  EXPECT_EQ(handler_.begun, 1);
  EXPECT_EQ(handler_.ended, 1);
  ASSERT_EQ(handler_.records.size(), 1u);
  EXPECT_EQ(handler_.records[0].tag, 7u) << "on_request_begin's tag comes back";
  EXPECT_EQ(handler_.records[0].path, "/a");
}

TEST_F(ConnectionTest, PipelinedRequestsAreAnsweredInOrderWithBodies) {
  d_.deliver("PUT /one HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
             "GET /two HTTP/1.1\r\nHost: x\r\n\r\n"
             "PUT /three HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nxy\r\n0\r\n\r\n");
  ASSERT_EQ(handler_.handled.size(), 3u);
  EXPECT_EQ(handler_.handled[0], "PUT /one abc");
  EXPECT_EQ(handler_.handled[1], "GET /two ");
  EXPECT_EQ(handler_.handled[2], "PUT /three xy");
  const std::string out = d_.write();
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
    Driver d(config_, handler);
    d.deliver(std::string_view(stream).substr(0, split));
    d.deliver(std::string_view(stream).substr(split));
    ASSERT_EQ(handler.handled.size(), 3u) << "split at " << split;
    EXPECT_EQ(handler.handled[0], "PUT /one abc");
    EXPECT_EQ(handler.handled[1], "PUT /c xyz");
    EXPECT_EQ(handler.handled[2], "GET /two ");
    EXPECT_EQ(d.last.action, SocketAction::kKeep);
  }
}

TEST_F(ConnectionTest, LeadingEmptyLinesAreIgnoredEvenWhenSplit) {
  d_.deliver("\r\n\r");
  EXPECT_FALSE(d_.last.write);
  d_.deliver("\nGET /a HTTP/1.1\r\nHo");
  d_.deliver("st: x\r\n\r\n");
  EXPECT_EQ(d_.write().rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
  ASSERT_EQ(handler_.handled.size(), 1u);
  EXPECT_EQ(handler_.handled[0], "GET /a ");
}

TEST_F(ConnectionTest, ParseErrorIsAnsweredThenHalfClosedAndDrained) {
  d_.deliver("GET /a HTTP/1.1\r\nHost : x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string out = d_.write();
  EXPECT_EQ(out.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u);
  EXPECT_NE(out.find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(count(out, "HTTP/1.1"), 1) << "nothing after a refused head may be answered";
  EXPECT_TRUE(handler_.handled.empty());
  ASSERT_EQ(handler_.records.size(), 1u);
  EXPECT_EQ(handler_.records[0].refusal, http::Refusal::kMalformed);
  // The client may still be sending: half-close, keep reading (and dropping) until EOF or the deadline.
  EXPECT_EQ(d_.last.action, SocketAction::kShutdownWrite);
  EXPECT_TRUE(d_.last.read);
  d_.deliver("GET /c HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_FALSE(d_.last.write) << "lingering input is discarded";
  EXPECT_EQ(d_.last.action, SocketAction::kKeep);
  EXPECT_EQ(d_.pass(499ms).action, SocketAction::kKeep);
  EXPECT_EQ(d_.pass(1ms).action, SocketAction::kClose);
}

TEST_F(ConnectionTest, LingeringEndsAtTheClientsEof) {
  d_.deliver("GARBAGE\r\n\r\n");
  d_.write();
  ASSERT_EQ(d_.last.action, SocketAction::kShutdownWrite);
  EXPECT_EQ(d_.close_input().action, SocketAction::kClose);
}

TEST_F(ConnectionTest, ACleanCloseDoesNotLinger) {
  d_.deliver("GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_FALSE(d_.last.read);
  d_.write();
  EXPECT_EQ(d_.last.action, SocketAction::kClose) << "the client asked to close: nothing left to drain";
}

TEST_F(ConnectionTest, OversizedBodyIsRefusedFromItsLength) {
  d_.deliver("PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n");
  EXPECT_EQ(d_.write().rfind("HTTP/1.1 413 ", 0), 0u);
  EXPECT_EQ(d_.last.action, SocketAction::kShutdownWrite) << "the 413'd body may still be arriving";
  EXPECT_TRUE(handler_.admitted.empty());
  EXPECT_EQ(handler_.begun, handler_.ended);
  EXPECT_EQ(handler_.records.at(0).refusal, http::Refusal::kBodyTooLarge);
}

TEST_F(ConnectionTest, PutWithoutLengthHasAnEmptyBody) {
  // RFC 9112 6.3: neither Content-Length nor Transfer-Encoding means a zero-length body.
  d_.deliver("PUT /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_EQ(handler_.handled.size(), 2u);
  EXPECT_EQ(handler_.handled[0], "PUT /a ");
  EXPECT_EQ(count(d_.write(), "HTTP/1.1 200 OK"), 2);
  EXPECT_EQ(d_.last.action, SocketAction::kKeep);
}

TEST_F(ConnectionTest, UnknownMethodIs501AndLabelledWithIt) {
  d_.deliver("BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(d_.write().rfind("HTTP/1.1 501 ", 0), 0u);
  ASSERT_EQ(handler_.records.size(), 1u);
  EXPECT_EQ(handler_.records[0].method_token, "BREW");
  EXPECT_EQ(handler_.records[0].path, "/pot");
  EXPECT_TRUE(handler_.records[0].request_line_parsed);
}

TEST_F(ConnectionTest, AdmissionRefusalClosesWithoutReadingTheBody) {
  d_.deliver("PUT /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string out = d_.write();
  EXPECT_EQ(out.rfind("HTTP/1.1 404 ", 0), 0u);
  EXPECT_EQ(count(out, "HTTP/1.1"), 1);
  EXPECT_EQ(d_.last.action, SocketAction::kShutdownWrite);
  EXPECT_TRUE(handler_.handled.empty());
  EXPECT_EQ(handler_.admitted, std::vector<std::uint64_t>{40});
}

TEST_F(ConnectionTest, ExpectContinueSendsInterimResponseBeforeBody) {
  d_.deliver("PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(d_.write(), "HTTP/1.1 100 Continue\r\n\r\n");
  d_.deliver("hi");
  EXPECT_EQ(d_.write().rfind("HTTP/1.1 200 OK", 0), 0u);
  ASSERT_EQ(handler_.handled.size(), 1u);
  EXPECT_EQ(handler_.handled[0], "PUT /a hi");
}

TEST_F(ConnectionTest, HeadResponseOmitsBodyButKeepsLength) {
  d_.deliver("HEAD /abc HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string out = d_.write();
  EXPECT_NE(out.find("Content-Length: 4\r\n"), std::string::npos);
  EXPECT_TRUE(out.ends_with("\r\n\r\n"));
}

TEST_F(ConnectionTest, Http10ClosesByDefaultAndKeepsAliveOnRequest) {
  d_.deliver("GET /a HTTP/1.0\r\n\r\n");
  EXPECT_NE(d_.write().find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(d_.last.action, SocketAction::kClose);

  RecordingHandler handler;
  Driver keep(config_, handler);
  keep.deliver("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_NE(keep.write().find("Connection: keep-alive\r\n"), std::string::npos);
  EXPECT_EQ(keep.last.action, SocketAction::kKeep);
}

TEST_F(ConnectionTest, PeerCloseAnswersCompleteRequestsAndAbandonsPartialOnes) {
  d_.deliver("GET /done HTTP/1.1\r\nHost: x\r\n\r\nPUT /partial HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nab");
  d_.close_input();
  EXPECT_FALSE(d_.last.read) << "nothing more will come";
  EXPECT_EQ(count(d_.write(), "HTTP/1.1 200"), 1);
  EXPECT_EQ(d_.last.action, SocketAction::kClose) << "closed as soon as the last byte is written";
  EXPECT_EQ(handler_.begun, 2);
  EXPECT_EQ(handler_.ended, 2);
}

TEST_F(ConnectionTest, HalfClosedPipelinedClientIsClosedOnceItsOutputDrains) {
  // printf '<3 pipelined GETs>' | nc: the EOF arrives with the requests; the answers take many writes.
  d_.deliver("GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /big HTTP/1.1\r\nHost: x\r\n\r\n");
  d_.close_input();
  std::string out;
  while (d_.last.action == SocketAction::kKeep && d_.last.write) out += d_.write(10000);
  EXPECT_EQ(count(out, "HTTP/1.1 200 OK"), 3);
  EXPECT_EQ(out.size(), 3 * (64 * 1024 + out.find("\r\n\r\n") + 4));
  EXPECT_EQ(d_.last.action, SocketAction::kClose);
}

TEST_F(ConnectionTest, DrainClosesIdleAtOnceAndBusyAfterTheResponse) {
  d_.conn.begin_drain();
  EXPECT_EQ(d_.advance().action, SocketAction::kClose);

  RecordingHandler handler;
  Driver busy(config_, handler);
  busy.deliver("PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n");
  busy.conn.begin_drain();
  EXPECT_EQ(busy.advance().action, SocketAction::kKeep);
  busy.deliver("ok");
  EXPECT_NE(busy.write().find("Connection: close\r\n"), std::string::npos);
  EXPECT_EQ(busy.last.action, SocketAction::kClose);
}

TEST_F(ConnectionTest, DestroyingMidRequestEndsIt) {
  RecordingHandler handler;
  {
    Driver d(config_, handler);
    d.deliver("PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\n");
    EXPECT_EQ(handler.begun, 1);
    EXPECT_EQ(handler.ended, 0);
  }
  EXPECT_EQ(handler.ended, 1);
}

TEST_F(ConnectionTest, AllocationFailureAnswers503AndCloses) {
  d_.deliver("GET /throw HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string out = d_.write();
  EXPECT_EQ(out.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u) << out;
  EXPECT_NE(out.find("Retry-After: 1\r\n"), std::string::npos);
  EXPECT_TRUE(out.ends_with(R"({"error": "service unavailable"})")) << out;
  EXPECT_EQ(count(out, "HTTP/1.1"), 1);
  EXPECT_NE(d_.last.action, SocketAction::kKeep);
  EXPECT_EQ(handler_.begun, handler_.ended);
  EXPECT_EQ(handler_.records.at(0).refusal, http::Refusal::kAllocationFailed);
}

// Found by fuzz_connection: the allocation-free 503 went out with a body for HEAD, and its record lost
// the request it answered (tag, method, target), so metrics labelled it as an unparsed request.
TEST_F(ConnectionTest, AnAllocationFailureIsRecordedForItsRequestAndKeepsHeadFraming) {
  d_.deliver("HEAD /throw HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string out = d_.write();
  EXPECT_EQ(out.rfind("HTTP/1.1 503 Service Unavailable\r\n", 0), 0u) << out;
  EXPECT_NE(out.find("Content-Length: 32\r\n"), std::string::npos);
  EXPECT_TRUE(out.ends_with("\r\n\r\n")) << "a HEAD response carries no body: " << out;
  ASSERT_EQ(handler_.records.size(), 1u);
  const http_test::Recorded& record = handler_.records[0];
  EXPECT_EQ(record.refusal, http::Refusal::kAllocationFailed);
  EXPECT_EQ(record.tag, 7u) << "on_request_begin's tag";
  EXPECT_EQ(record.method_token, "HEAD");
  EXPECT_EQ(record.target, "/throw");
  EXPECT_TRUE(record.request_line_parsed);
}

TEST_F(ConnectionTest, AHandlerExceptionAnswers500AndCloses) {
  d_.deliver("GET /fail HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(d_.write().rfind("HTTP/1.1 500 ", 0), 0u);
  EXPECT_NE(d_.last.action, SocketAction::kKeep);
}

}  // namespace

namespace {

TEST_F(ConnectionTest, AnEmptyLineAfterARequestLeavesTheConnectionIdle) {
  // Old clients send CRLF after a POST body; RFC 9112 2.2 says to ignore it, so it starts no request.
  d_.deliver("PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok\r\n");
  d_.write();
  EXPECT_EQ(d_.last.deadline, d_.now + config_.timeouts.idle) << "the idle timeout, not the head's";
  EXPECT_EQ(d_.pass(config_.timeouts.idle).action, SocketAction::kClose);
  EXPECT_TRUE(d_.write().empty()) << "closed quietly, without a 408";
}

TEST_F(ConnectionTest, EndlessEmptyLinesAreNotBufferedWithoutBound) {
  std::string lines;
  for (int i = 0; i < 20000; ++i) lines += "\r\n";
  d_.deliver(lines);
  const std::string out = d_.write();
  EXPECT_EQ(out.rfind("HTTP/1.1 4", 0), 0u) << "refused once past the head limit";
  EXPECT_NE(d_.last.action, SocketAction::kKeep);
}

}  // namespace
