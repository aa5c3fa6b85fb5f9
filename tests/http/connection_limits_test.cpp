// The connection's bounds: every deadline, the memory it may hold (charged before held), back-pressure
// on a client that does not read, and large values sent from shared memory instead of copies.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/memory_account.h"
#include "base/shared_bytes.h"
#include "http/connection.h"
#include "http/connection_driver.h"

namespace {

using namespace std::chrono_literals;
using http::SocketAction;
using http_test::count;
using http_test::Driver;
using http_test::RecordingHandler;

class ConnectionLimitsTest : public ::testing::Test {
 protected:
  http::ConnectionConfig config_ = http_test::small_config();
  RecordingHandler handler_;
};

TEST_F(ConnectionLimitsTest, AHeadMustArriveWithinTheHeaderTimeoutHoweverItTrickles) {
  Driver d(config_, handler_);
  d.deliver("GET /a HTTP/1.1\r\n");
  EXPECT_EQ(d.last.deadline, d.now + 1000ms);
  d.now += 600ms;
  d.deliver("Host: x\r\n");
  EXPECT_EQ(d.last.deadline, d.now + 400ms) << "trickling does not move a whole-head deadline";
  d.pass(400ms);
  EXPECT_EQ(d.write().rfind("HTTP/1.1 408 ", 0), 0u);
  EXPECT_EQ(handler_.records.at(0).refusal, http::Refusal::kHeadTimeout);
}

TEST_F(ConnectionLimitsTest, ASilentNewConnectionGetsTheHeadDeadlineAndAnIdleOneTheIdleTimeout) {
  Driver silent(config_, handler_);
  EXPECT_EQ(silent.advance().deadline, silent.now + 1000ms);
  EXPECT_EQ(silent.pass(1000ms).action, SocketAction::kClose);

  Driver used(config_, handler_);
  used.deliver("GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
  used.write();
  EXPECT_EQ(used.last.deadline, used.now + 5000ms);
  EXPECT_EQ(used.pass(4999ms).action, SocketAction::kKeep);
  EXPECT_EQ(used.pass(1ms).action, SocketAction::kClose) << "idle keep-alive closes without a response";
  EXPECT_TRUE(used.write().empty());
}

TEST_F(ConnectionLimitsTest, ABodyMayPauseAtMostTheBodyTimeout) {
  Driver d(config_, handler_);
  d.deliver("PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
  d.now += 1900ms;
  d.deliver("def");
  EXPECT_EQ(d.last.deadline, d.now + 2000ms) << "progress restarts the pause clock";
  d.pass(2000ms);
  EXPECT_EQ(d.write().rfind("HTTP/1.1 408 ", 0), 0u);
  EXPECT_EQ(handler_.begun, 1);
  EXPECT_EQ(handler_.ended, 1);
  EXPECT_TRUE(handler_.handled.empty());
  EXPECT_EQ(handler_.records.at(0).refusal, http::Refusal::kBodyTimeout);
}

TEST_F(ConnectionLimitsTest, ATricklingBodyIsCutOffByTheMinimumRate) {
  config_.timeouts.body_min_rate = 10;  // bytes per second after the 2 s grace
  Driver d(config_, handler_);
  d.deliver("PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n");
  // One byte a second never pauses long enough for the pause timeout, but falls behind 10 bytes/s.
  int sent = 0;
  while (d.last.action == SocketAction::kKeep && !d.last.write && sent < 100) {
    d.now += 1000ms;
    d.deliver("x");
    ++sent;
  }
  EXPECT_EQ(d.write().rfind("HTTP/1.1 408 ", 0), 0u);
  // Deadline: start + 2 s grace + received/10 s, reached once 1 s per byte outpaces 0.1 s per byte.
  EXPECT_EQ(sent, 3);
}

TEST_F(ConnectionLimitsTest, AStalledReaderIsAbortedAfterTheWriteTimeout) {
  Driver d(config_, handler_);
  d.deliver("GET /big HTTP/1.1\r\nHost: x\r\n\r\n");
  d.write(1000);  // the socket takes a little, then blocks
  EXPECT_TRUE(d.last.write);
  EXPECT_EQ(d.last.deadline, d.now + 3000ms);
  EXPECT_EQ(d.pass(2999ms).action, SocketAction::kKeep);
  EXPECT_EQ(d.pass(1ms).action, SocketAction::kAbort);
}

TEST_F(ConnectionLimitsTest, ANonReadingClientStopsBeingReadOnceItsOutputPassesTheWatermark) {
  config_.limits.output_high_watermark = 64;
  Driver d(config_, handler_);
  std::string many;
  for (int i = 0; i < 10; ++i) many += "GET /x HTTP/1.1\r\nHost: x\r\n\r\n";
  d.deliver(many);
  EXPECT_EQ(handler_.handled.size(), 1u) << "one response already passes the watermark";
  EXPECT_FALSE(d.last.read) << "reading on would only buffer more: the socket must not be polled for input";
  d.close_input();
  EXPECT_FALSE(d.last.read) << "a half-closed, non-reading peer must not wake the loop either";
  std::string out;
  while (d.last.write) out += d.write();
  EXPECT_EQ(count(out, "HTTP/1.1 200"), 10);
  EXPECT_EQ(d.last.action, SocketAction::kClose);
}

TEST_F(ConnectionLimitsTest, LargeValuesAreSentFromSharedMemoryNotCopied) {
  base::MemoryAccount buffers(1 << 20);
  config_.accounts.buffers = &buffers;
  Driver d(config_, handler_);
  d.deliver("GET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /big HTTP/1.1\r\nHost: x\r\n\r\n");
  iovec iov[8];
  const std::size_t n = d.conn.gather_output(iov);
  ASSERT_EQ(n, 4u) << "head, body, head, body";
  EXPECT_EQ(iov[1].iov_base, handler_.big.data()) << "the stored bytes themselves";
  EXPECT_EQ(iov[3].iov_base, handler_.big.data());
  EXPECT_LT(buffers.used(), 8192u) << "the connection holds only the heads";
  EXPECT_EQ(handler_.big.use_count(), 3u);
  const std::string out = d.write();
  EXPECT_EQ(count(out, std::string(64 * 1024, 'b')), 2);
  EXPECT_EQ(handler_.big.use_count(), 1u) << "written slices let go of the value";
}

TEST_F(ConnectionLimitsTest, ABodyIsChargedInFullBeforeItIsRead) {
  base::MemoryAccount bodies(1000);
  config_.accounts.bodies = &bodies;
  config_.limits.max_body_bytes = 10000;
  Driver d(config_, handler_);
  d.deliver("PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n");
  EXPECT_GE(bodies.used(), 500u) << "reserved from the announced length";
  d.deliver(std::string(500, 'z'));
  EXPECT_EQ(bodies.used(), 0u) << "released once handled";

  Driver over(config_, handler_);
  over.deliver("PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n");
  const std::string out = over.write();
  EXPECT_EQ(out.rfind("HTTP/1.1 503 ", 0), 0u) << out;
  EXPECT_NE(out.find("Retry-After: 1\r\n"), std::string::npos);
  EXPECT_EQ(over.last.action, SocketAction::kShutdownWrite);
  EXPECT_EQ(handler_.records.back().refusal, http::Refusal::kBodyBudget);
  EXPECT_EQ(bodies.used(), 0u);
}

TEST_F(ConnectionLimitsTest, AChunkedBodyIsChargedChunkByChunk) {
  base::MemoryAccount bodies(1000);
  config_.accounts.bodies = &bodies;
  config_.limits.max_body_bytes = 10000;
  Driver d(config_, handler_);
  d.deliver("PUT /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100\r\n");
  EXPECT_GE(bodies.used(), 256u) << "the first chunk is reserved before its data";
  d.deliver(std::string(256, 'q') + "\r\n800\r\n");  // a 2 KiB chunk does not fit
  EXPECT_EQ(d.write().rfind("HTTP/1.1 503 ", 0), 0u);
  EXPECT_EQ(bodies.used(), 0u);
  EXPECT_EQ(handler_.admitted, (std::vector<std::uint64_t>{0, 256, 2304}));
}

// Keeps every body as a stored value without a copy, as a store does: the block and its charge leave the
// connection's builder, and the charge moves to the store's own account.
class KeepingHandler final : public http::Handler {
 public:
  explicit KeepingHandler(base::MemoryAccount& stored) : stored_(stored) {}
  std::uint32_t on_request_begin(const http::RequestHead&) override { return 0; }
  bool admit_body(const http::RequestHead&, std::uint64_t, http::Response&) override { return true; }
  void handle(const http::RequestHead&, base::ByteBuilder& body, http::Response&, http::Deferrer&) override {
    kept.push_back(std::move(body).freeze());
    moved = kept.back().sole_owner_charge() != nullptr && kept.back().sole_owner_charge()->move_to(stored_);
  }
  void on_request_end() override {}
  void on_response(const http::ResponseRecord& record) override { statuses.push_back(record.status); }

  std::vector<base::SharedBytes> kept;
  std::vector<int> statuses;
  bool moved = false;

 private:
  base::MemoryAccount& stored_;
};

// Found by fuzz_connection: a handler that moved the body out took the builder's account with it, so every
// later body on the connection was held without being charged to the in-flight budget.
TEST_F(ConnectionLimitsTest, ABodyMovedOutByTheHandlerLeavesTheNextOneCharged) {
  base::MemoryAccount bodies(1000);
  base::MemoryAccount stored(1 << 20);
  config_.accounts.bodies = &bodies;
  config_.limits.max_body_bytes = 10000;
  KeepingHandler handler(stored);
  Driver d(config_, handler);
  d.deliver("PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 600\r\n\r\n" + std::string(600, 'a'));
  ASSERT_EQ(handler.kept.size(), 1u);
  EXPECT_TRUE(handler.moved);
  EXPECT_EQ(bodies.used(), 0u) << "the stored value's charge went to the store";
  d.write();

  d.deliver("PUT /b HTTP/1.1\r\nHost: x\r\nContent-Length: 600\r\n\r\n");
  EXPECT_GE(bodies.used(), 600u) << "the second body is charged like the first";
  d.deliver(std::string(600, 'b'));
  d.write();
  d.deliver("PUT /c HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n");
  const std::string out = d.write();
  EXPECT_EQ(out.rfind("HTTP/1.1 503 ", 0), 0u) << "over the budget: " << out;
  EXPECT_EQ(handler.kept.size(), 2u);
}

// Found by fuzz_connection: pipelined bytes behind a deferred answer that the buffer budget could not hold
// were refused at once, so the 503 overtook the pending answer and the request got a second response when
// the answer came. The refusal now waits behind the answer.
TEST_F(ConnectionLimitsTest, InputTheBufferBudgetCannotHoldBehindADeferredAnswerIsRefusedAfterIt) {
  base::MemoryAccount buffers(6000);  // a 4 KiB buffer fits, the 8 KiB the pipelined bytes need does not
  config_.accounts.buffers = &buffers;
  Driver d(config_, handler_);
  d.deliver("GET /defer HTTP/1.1\r\nHost: x\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(5000, 'p'));
  EXPECT_TRUE(d.conn.awaiting_handler());
  EXPECT_FALSE(d.last.write) << "nothing may overtake the pending answer";
  EXPECT_FALSE(d.last.read);
  EXPECT_TRUE(handler_.records.empty());

  http::Response answer;
  answer.body = "done";
  handler_.pending.at(0).complete(answer);
  d.advance();
  const std::string out = d.write();
  EXPECT_EQ(count(out, "HTTP/1.1 "), 2) << out;
  EXPECT_EQ(out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << out;
  const std::size_t refusal = out.find("HTTP/1.1 503 ");
  ASSERT_NE(refusal, std::string::npos) << out;
  EXPECT_LT(out.find("done"), refusal);
  EXPECT_NE(out.find("Retry-After: 1\r\n", refusal), std::string::npos);
  EXPECT_NE(out.find("Connection: close\r\n", refusal), std::string::npos);
  ASSERT_EQ(handler_.records.size(), 2u);
  EXPECT_EQ(handler_.records[0].status, 200);
  EXPECT_EQ(handler_.records[1].refusal, http::Refusal::kBufferBudget);
  EXPECT_EQ(handler_.begun, 1);
  EXPECT_EQ(handler_.ended, 1);
  EXPECT_EQ(d.last.action, SocketAction::kShutdownWrite) << "the refused client is drained, not reset";
}

// Found by fuzz_connection: once an answer could not be queued (the connection will be reset), the
// pipelined requests behind it were still handled — a PUT stored, a DELETE applied — with no answer ever
// to be sent. Nothing more is handled once the connection has given up.
TEST_F(ConnectionLimitsTest, NothingMoreIsHandledOnceAnAnswerCouldNotBeQueued) {
  base::MemoryAccount buffers(3000);  // less than the output's first 4 KiB
  config_.accounts.buffers = &buffers;
  Driver d(config_, handler_);
  d.deliver("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(d.last.action, SocketAction::kAbort);
  EXPECT_EQ(handler_.handled, (std::vector<std::string>{"GET /a "}));
  EXPECT_EQ(d.advance().action, SocketAction::kAbort);
  EXPECT_EQ(handler_.handled.size(), 1u);
  EXPECT_EQ(handler_.begun, handler_.ended);
}

// The same after a deferred answer that cannot be queued: the owner's wake-up advance() handles nothing.
TEST_F(ConnectionLimitsTest, NothingMoreIsHandledOnceADeferredAnswerCouldNotBeQueued) {
  base::MemoryAccount buffers(5000);  // room for the input's 4 KiB, not for the output's as well
  config_.accounts.buffers = &buffers;
  Driver d(config_, handler_);
  d.deliver("GET /defer HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(d.conn.awaiting_handler());
  http::Response answer;
  answer.body = "done";
  handler_.pending.at(0).complete(answer);
  EXPECT_EQ(d.advance().action, SocketAction::kAbort);
  EXPECT_EQ(handler_.handled, (std::vector<std::string>{"GET /defer "}));
}

TEST_F(ConnectionLimitsTest, TheHandlerCanRefuseAChunkedBodyAsItGrows) {
  handler_.admit_limit = 300;
  config_.limits.max_body_bytes = 10000;
  Driver d(config_, handler_);
  d.deliver("PUT /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100\r\n" + std::string(256, 'q') + "\r\n");
  EXPECT_FALSE(d.last.write) << d.write();
  d.deliver("64\r\n");
  EXPECT_EQ(d.write().rfind("HTTP/1.1 507 ", 0), 0u) << "refused before the second chunk's data";
  EXPECT_TRUE(handler_.handled.empty());
}

TEST_F(ConnectionLimitsTest, InputTheBufferBudgetCannotHoldIsRefused) {
  base::MemoryAccount buffers(6000);
  config_.accounts.buffers = &buffers;
  Driver d(config_, handler_);
  // The unfinished head must be kept, and 5 KiB needs an 8 KiB buffer, more than the budget allows.
  d.deliver("GET /a HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(5000, 'p'));
  EXPECT_EQ(d.write().rfind("HTTP/1.1 503 ", 0), 0u);
  EXPECT_EQ(handler_.records.back().refusal, http::Refusal::kBufferBudget);
}

TEST_F(ConnectionLimitsTest, AnIdleConnectionGivesBackItsBuffers) {
  base::MemoryAccount buffers(1 << 20);
  config_.accounts.buffers = &buffers;
  Driver d(config_, handler_);
  d.deliver("GET /a HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(3000, 'p'));
  d.deliver(std::string(6000, 'p') + "\r\n\r\n");
  d.write();
  EXPECT_LE(buffers.used(), 2 * config_.limits.keep_buffer_bytes);
}

TEST_F(ConnectionLimitsTest, ALargeBodyCanBeReadStraightIntoItsBuffer) {
  config_.limits.max_body_bytes = 1 << 20;
  Driver d(config_, handler_);
  d.deliver("PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n");
  std::span<char> direct = d.conn.direct_input();
  ASSERT_EQ(direct.size(), 100000u);
  std::fill(direct.begin(), direct.begin() + 60000, 'd');
  d.conn.on_received_direct(60000);
  d.advance();
  direct = d.conn.direct_input();
  ASSERT_EQ(direct.size(), 40000u) << "the rest of the body, no more";
  std::fill(direct.begin(), direct.end(), 'e');
  d.conn.on_received_direct(direct.size());
  d.advance();
  ASSERT_EQ(handler_.handled.size(), 1u);
  EXPECT_EQ(handler_.handled[0], "PUT /a " + std::string(60000, 'd') + std::string(40000, 'e'));
}

}  // namespace
