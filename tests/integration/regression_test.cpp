// Regressions found by attacking the real binary: each test reproduces a finding over real sockets.
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "integration/harness.h"

namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using harness::Client;
using harness::ServerProcess;

// Finding: a client with a small receive window asks for an object over 1 MiB, half-closes and stops
// reading; the server polled for input it would not read (EPOLLRDHUP stayed armed) and spun a core at
// ~38,000 epoll_wait/sendto per second until the write timeout.
TEST(RegressionTest, AHalfClosedClientWithASmallWindowThatStopsReadingCostsNoCpu) {
  ServerProcess server({"--threads", "1", "--write-timeout", "60000"});
  ASSERT_NE(server.port(), 0);
  ASSERT_EQ(Client(server.port()).request("PUT", "/api/buckets/large", std::string(16 << 20, 'L'))->status, 200);
  Client quiet(server.port());
  const int small = 4096;
  ASSERT_EQ(::setsockopt(quiet.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
  ASSERT_TRUE(quiet.send(harness::build_request("GET", "/api/buckets/large")));
  quiet.shutdown_write();
  // Wait until the server has answered others since (so it has seen the request and the FIN).
  ASSERT_TRUE(harness::eventually([&] { return Client(server.port()).request("GET", "/healthz")->status == 200; }));
  const long before = harness::cpu_ticks(server.pid());
  // Measuring CPU use needs an interval of wall time; nothing is awaited here.
  std::this_thread::sleep_for(1s);
  const long used = harness::cpu_ticks(server.pid()) - before;
  EXPECT_LT(used, ::sysconf(_SC_CLK_TCK) / 10) << "the server spun while a half-closed peer did not read";
  EXPECT_EQ(Client(server.port()).request("GET", "/healthz")->status, 200);
}

// Finding: three pipelined 2 MiB GETs and then a half-close (`printf ... | nc`): the last byte came at
// once, but the close only after the 60 s idle timeout, because nothing looked at the connection again
// once its output drained with no input left.
TEST(RegressionTest, AHalfClosedPipelinedClientIsClosedAsSoonAsItsAnswersAreWritten) {
  ServerProcess server({"--idle-timeout", "60000"});
  ASSERT_NE(server.port(), 0);
  const std::string value(2 << 20, 'P');
  ASSERT_EQ(Client(server.port()).request("PUT", "/api/buckets/p", value)->status, 200);
  Client client(server.port(), 5000ms);
  // A small window keeps each answer queued in the server for many writes, as over a real network.
  const int small = 16384;
  ASSERT_EQ(::setsockopt(client.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
  std::string three;
  for (int i = 0; i < 3; ++i) three += harness::build_request("GET", "/api/buckets/p");
  ASSERT_TRUE(client.send(three));
  client.shutdown_write();
  const auto started = Clock::now();
  for (int i = 0; i < 3; ++i) {
    const auto r = client.read_response();
    ASSERT_TRUE(r) << "response " << i;
    EXPECT_TRUE(r->body == value);
  }
  EXPECT_TRUE(client.wait_closed()) << "no EOF within 5 s of the last answer";
  EXPECT_LT(Clock::now() - started, 5s);
}

// Finding: `GET /\r\n` (HTTP/0.9 style) and a TLS ClientHello sent to the plain port were answered only
// when the 10 s header timeout ran out; both are certain to be invalid as soon as they arrive.
TEST(RegressionTest, RequestsThatCannotBeHttp11AreRefusedAtOnce) {
  ServerProcess server({"--header-timeout", "10000"});
  ASSERT_NE(server.port(), 0);
  const std::string tls_client_hello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
  for (const std::string& bytes : {std::string("GET /\r\n"), tls_client_hello}) {
    Client c(server.port(), 2000ms);
    ASSERT_TRUE(c.send(bytes));
    const auto r = c.read_response();
    ASSERT_TRUE(r) << "no answer within 2 s to " << bytes.size() << " bytes";
    EXPECT_EQ(r->status, 400);
    EXPECT_EQ(r->header("content-type"), "application/json");
    EXPECT_EQ(r->header("connection"), "close");
  }
}

// Finding: a request line of exactly MAX_REQUEST_LINE - 1 or MAX_REQUEST_LINE bytes made every read of a
// trickled head re-parse it from the start. The parser's own tests bound its work; here the whole path
// must still answer such a head correctly.
TEST(RegressionTest, AMaximalRequestLineWithTrickledHeadersIsAnswered) {
  ServerProcess server({"--max-request-line", "1024", "--max-header-bytes", "8KiB"});
  ASSERT_NE(server.port(), 0);
  for (const std::size_t line : {std::size_t{1023}, std::size_t{1024}}) {
    const std::string prefix = "GET /api/buckets/";
    const std::string version = " HTTP/1.1";
    const std::string id(line - prefix.size() - version.size(), 'i');
    std::string head = prefix + id + version + "\r\nHost: a\r\n";
    EXPECT_EQ(head.find("\r\n"), line);
    while (head.size() < 7000) head += "X-Pad: " + std::string(200, 'p') + "\r\n";
    head += "\r\n";
    Client c(server.port(), 5000ms);
    for (std::size_t at = 0; at < head.size(); at += 7) ASSERT_TRUE(c.send(std::string_view(head).substr(at, 7)));
    const auto r = c.read_response();
    ASSERT_TRUE(r) << "line of " << line;
    EXPECT_EQ(r->status, 404) << "line of " << line;
  }
}

}  // namespace
