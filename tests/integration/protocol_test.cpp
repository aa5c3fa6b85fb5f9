// HTTP/1.1 connection behaviour against the real binary: persistence, pipelining, 100-continue, chunked
// bodies, and the refusals that keep request framing unambiguous.
#include <gtest/gtest.h>

#include <string>

#include "harness.h"

namespace {

using harness::Client;
using harness::ServerProcess;

class ProtocolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new ServerProcess({"--max-body-bytes", "4096", "--max-request-line", "1024", "--max-header-bytes", "4096"});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_NE(server_->port(), 0); }
  Client client() { return Client(server_->port()); }
  harness::MaybeResponse get(const std::string& target) { return client().request("GET", target); }

  // Sends raw bytes on a fresh connection; expects one response with `status` and then a closed connection.
  void expect_refused_and_closed(const std::string& raw, int status) {
    Client c = client();
    ASSERT_TRUE(c.send(raw));
    auto r = c.read_response();
    ASSERT_TRUE(r) << "no response to: " << raw;
    EXPECT_EQ(r->status, status) << raw;
    EXPECT_EQ(r->header("connection"), "close") << raw;
    EXPECT_EQ(r->header("content-type"), "application/json") << raw;
    EXPECT_TRUE(c.wait_closed()) << "connection left open after: " << raw;
  }

  static ServerProcess* server_;
};
ServerProcess* ProtocolTest::server_ = nullptr;

TEST_F(ProtocolTest, KeepAliveIsTheDefaultInHttp11) {
  Client c = client();
  for (int i = 0; i < 20; ++i) {
    auto r = c.request("GET", "/healthz");
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->status, 200);
    EXPECT_FALSE(r->has_header("connection"));
  }
}

TEST_F(ProtocolTest, ConnectionCloseIsHonoured) {
  Client c = client();
  auto r = c.request("GET", "/healthz", "", "Connection: close\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(ProtocolTest, Http10ClosesUnlessKeepAliveIsAsked) {
  {
    Client c = client();
    ASSERT_TRUE(c.send("GET /healthz HTTP/1.0\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(c.wait_closed());
  }
  Client c = client();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("connection"), "keep-alive");
  }
}

TEST_F(ProtocolTest, PipelinedRequestsAreAnsweredInOrder) {
  Client c = client();
  std::string batch = harness::build_request("PUT", "/api/buckets/pipe", "one");
  batch += harness::build_request("GET", "/api/buckets/pipe");
  batch += harness::build_request("PUT", "/api/buckets/pipe", "two");
  batch += harness::build_request("GET", "/api/buckets/pipe");
  batch += harness::build_request("GET", "/api/buckets/pipe-missing");
  ASSERT_TRUE(c.send(batch));
  EXPECT_EQ(c.read_response()->status, 200);
  EXPECT_EQ(c.read_response()->body, "one");
  EXPECT_EQ(c.read_response()->status, 200);
  EXPECT_EQ(c.read_response()->body, "two");
  EXPECT_EQ(c.read_response()->status, 404);
}

TEST_F(ProtocolTest, PipelineSplitAtEveryByteStillWorks) {
  const std::string batch = harness::build_request("PUT", "/api/buckets/split", "abc") +
                            harness::build_request("GET", "/api/buckets/split");
  Client c = client();
  for (char byte : batch) ASSERT_TRUE(c.send(std::string_view(&byte, 1)));
  EXPECT_EQ(c.read_response()->status, 200);
  EXPECT_EQ(c.read_response()->body, "abc");
}

TEST_F(ProtocolTest, ExpectContinueGetsContinueBeforeTheBody) {
  Client c = client();
  ASSERT_TRUE(c.send("PUT /api/buckets/expect HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = c.read_response();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c.send("hello"));
  auto final_response = c.read_response();
  ASSERT_TRUE(final_response);
  EXPECT_EQ(final_response->status, 200);
  EXPECT_EQ(c.request("GET", "/api/buckets/expect")->body, "hello");
}

TEST_F(ProtocolTest, ExpectContinueWithTooLargeBodyGetsTheFinalStatusInstead) {
  Client c = client();
  ASSERT_TRUE(c.send("PUT /api/buckets/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_TRUE(c.wait_closed());
}

TEST_F(ProtocolTest, ExpectContinueOnUnknownPathIsRefusedBeforeTheBody) {
  Client c = client();
  ASSERT_TRUE(c.send("PUT /elsewhere HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

TEST_F(ProtocolTest, ChunkedBodyWithExtensionsAndTrailersIsDecoded) {
  Client c = client();
  ASSERT_TRUE(c.send("PUT /api/buckets/chunky HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5;name=value\r\nhello\r\n"
                     "7\r\n, world\r\n"
                     "0\r\nX-Checksum: abc\r\n\r\n"));
  auto put = c.read_response();
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 200);
  EXPECT_EQ(c.request("GET", "/api/buckets/chunky")->body, "hello, world");
}

TEST_F(ProtocolTest, BodyOverTheLimitIsRefusedWithoutReadingIt) {
  // Only the head is sent: the 413 must come from the announced length alone.
  expect_refused_and_closed("PUT /api/buckets/x HTTP/1.1\r\nHost: a\r\nContent-Length: 4097\r\n\r\n", 413);
}

TEST_F(ProtocolTest, ChunkedBodyOverTheLimitIsRefused) {
  expect_refused_and_closed("PUT /api/buckets/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2000\r\n", 413);
}

TEST_F(ProtocolTest, FramingRefusals) {
  struct Case {
    const char* name;
    std::string raw;
    int status;
  };
  const Case cases[] = {
      {"CL with TE", "PUT /api/buckets/s HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"TE with CL", "PUT /api/buckets/s HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400},
      {"conflicting CL", "PUT /api/buckets/s HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", 400},
      {"signed CL", "PUT /api/buckets/s HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n", 400},
      {"hex CL", "PUT /api/buckets/s HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3\r\n\r\n", 400},
      {"gzip TE", "PUT /api/buckets/s HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
      {"gzip, chunked TE", "PUT /api/buckets/s HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"space before colon", "GET /healthz HTTP/1.1\r\nHost : a\r\n\r\n", 400},
      {"obs-fold", "GET /healthz HTTP/1.1\r\nHost: a\r\nX-Long: one\r\n two\r\n\r\n", 400},
      {"missing Host", "GET /healthz HTTP/1.1\r\n\r\n", 400},
      {"two Hosts", "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"bare LF", "GET /healthz HTTP/1.1\nHost: a\n\n", 400},
      {"bad chunk size", "PUT /api/buckets/s HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
      {"chunk without CRLF", "PUT /api/buckets/s HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", 400},
      {"unknown method", "BREW /api/buckets/s HTTP/1.1\r\nHost: a\r\n\r\n", 501},
      {"HTTP/2.0", "GET /healthz HTTP/2.0\r\nHost: a\r\n\r\n", 505},
      {"long request line", "GET /" + std::string(2000, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", 414},
      {"large head", "GET /healthz HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(5000, 'b') + "\r\n\r\n", 431},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    expect_refused_and_closed(c.raw, c.status);
  }
}

TEST_F(ProtocolTest, SmuggledRequestInABodyNeverReachesTheStore) {
  // A front end that believed Content-Length would see one request; one that believed Transfer-Encoding
  // would see a second, smuggled PUT. Refusing the message outright leaves no room for either reading.
  const std::string smuggled = harness::build_request("PUT", "/api/buckets/smuggled", "evil");
  const std::string raw = "PUT /api/buckets/carrier HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: " +
                          std::to_string(5 + smuggled.size()) + "\r\n\r\n0\r\n\r\n" + smuggled;
  expect_refused_and_closed(raw, 400);
  EXPECT_EQ(get("/api/buckets/smuggled")->status, 404);
  EXPECT_EQ(get("/api/buckets/carrier")->status, 404);
}

TEST_F(ProtocolTest, BytesAfterAnEarlyRefusalAreNotParsedAsARequest) {
  const std::string raw = "PUT /api/buckets/big HTTP/1.1\r\nHost: a\r\nContent-Length: 9999\r\n\r\n" +
                          harness::build_request("PUT", "/api/buckets/sneaky", "x");
  expect_refused_and_closed(raw, 413);
  EXPECT_EQ(get("/api/buckets/sneaky")->status, 404);
}

// RFC 9112 6.3 and 7: without chunked as the one final coding the body's length is unknowable, so the
// request is refused and the connection closed; chunked after another coding is only unsupported.
TEST_F(ProtocolTest, TransferCodingsWhoseLengthIsUnknowableAre400) {
  const std::string head = "PUT /api/buckets/te HTTP/1.1\r\nHost: a\r\n";
  const struct {
    const char* name;
    std::string fields;
    int status;
  } cases[] = {
      {"chunked, gzip", "Transfer-Encoding: chunked, gzip\r\n", 400},
      {"chunked twice on one line", "Transfer-Encoding: chunked, chunked\r\n", 400},
      {"chunked on two lines", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", 400},
      {"identity", "Transfer-Encoding: identity\r\n", 400},
      {"gzip line then chunked line", "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", 501},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    expect_refused_and_closed(head + c.fields + "\r\n5\r\nhello\r\n0\r\n\r\n", c.status);
  }
  EXPECT_EQ(get("/api/buckets/te")->status, 404);
}

TEST_F(ProtocolTest, HostMustBeAValidAuthority) {
  for (const char* host : {"user@a", "a/path", "a, b", "a b", "a:80:90", "[::1", "a:http"}) {
    SCOPED_TRACE(host);
    expect_refused_and_closed(std::string("GET /healthz HTTP/1.1\r\nHost: ") + host + "\r\n\r\n", 400);
  }
  for (const char* host : {"[::1]:5000", "127.0.0.1:5000", "storage-api.default.svc", ""}) {
    SCOPED_TRACE(host);
    Client c = client();
    ASSERT_TRUE(c.send(std::string("GET /healthz HTTP/1.1\r\nHost: ") + host + "\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
}

TEST_F(ProtocolTest, FragmentAndOverlongMethodAre400) {
  expect_refused_and_closed("GET /healthz#top HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  // The method, not the URI, is what is long: 400, also when it runs past the 1 KiB line limit.
  expect_refused_and_closed(std::string(65, 'M') + " /healthz HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  expect_refused_and_closed(std::string(2000, 'M') + " /healthz HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  Client c = client();
  ASSERT_TRUE(c.send(std::string(64, 'M') + " /healthz HTTP/1.1\r\nHost: a\r\n\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 501) << "a 64-byte method is still a method, just not one we implement";
}

// These heads never end, so they are answered only because the first bad byte decides them: the client
// reads the refusal well within the 10 s head timeout.
TEST_F(ProtocolTest, InvalidHeadsAreRefusedWithoutWaitingForTheBlankLine) {
  const std::string cases[] = {
      std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),  // a TLS ClientHello
      " GET /healthz HTTP/1.1\r\n",
      "GET /healthz\r\n",                                                   // HTTP/0.9
      "GET /healthz HTTP/1.x",
      "GET /healthz HTTP/1.1\r\nHost : a\r\nX-More: ",
      "GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\nX-More: ",
      "PUT /api/buckets/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\nX-More: ",
  };
  for (const std::string& raw : cases) {
    SCOPED_TRACE(raw);
    expect_refused_and_closed(raw, 400);
  }
  expect_refused_and_closed("GET /" + std::string(1100, 'a'), 414);
}

TEST_F(ProtocolTest, LeadingEmptyLinesBeforeARequestAreIgnored) {
  Client c = client();
  ASSERT_TRUE(c.send("\r\n\r\nGET /healthz HTTP/1.1\r\nHost: a\r\n\r\n\r\nGET /readyz HTTP/1.1\r\nHost: a\r\n\r\n"));
  auto first = c.read_response();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  auto second = c.read_response();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 200);
  EXPECT_FALSE(second->has_header("connection"));
}

TEST_F(ProtocolTest, ChunkExtensionsMustFollowTheirGrammar) {
  const std::string head = "PUT /api/buckets/ext HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const char* size_line : {"5;", "5;=x", "5;a=", "5;a b", "5;a=\"x", "5;a=\"\x01\"", "5 ;a= b c"}) {
    SCOPED_TRACE(size_line);
    expect_refused_and_closed(head + size_line + "\r\nhello\r\n0\r\n\r\n", 400);
  }
  EXPECT_EQ(get("/api/buckets/ext")->status, 404);
  Client c = client();
  ASSERT_TRUE(c.send(head + "5 ; a = b ;c=\"q \\\" ;\" ; d\r\nhello\r\n0\r\n\r\n"));
  auto put = c.read_response();
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 200);
  EXPECT_EQ(c.request("GET", "/api/buckets/ext")->body, "hello");
}

}  // namespace
