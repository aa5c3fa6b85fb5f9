#include "http/chunked_decoder.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace http {
namespace {

using namespace std::string_literals;
using Status = ChunkedDecoder::Status;

constexpr std::size_t kBodyLimit = 1024;

// Keeps the body and every reservation; refuses with `refusal` a reservation that would pass `allowance`.
class RecordingSink final : public BodySink {
 public:
  int reserve(std::uint64_t bytes) noexcept override {
    reservations.push_back(bytes);
    if (refusal != 0 && bytes > allowance - reserved) return refusal;
    reserved += bytes;
    return 0;
  }
  void append(std::string_view bytes) noexcept override {
    EXPECT_LE(body.size() + bytes.size(), reserved) << "appended more than reserve() agreed to";
    body.append(bytes);
  }

  std::string body;
  std::vector<std::uint64_t> reservations;
  std::uint64_t reserved = 0;
  std::uint64_t allowance = UINT64_MAX;
  int refusal = 0;
};

struct Outcome {
  Status status = Status::kNeedMore;
  std::size_t consumed = 0;  // total over all feeds
  int error_status = 0;
  std::string body;
};

// Feeds `input` in pieces cut at `cuts` (ascending offsets), as a connection would after each read:
// stops at the first kDone or kError.
Outcome feed_in_pieces(ChunkedDecoder& decoder, std::string_view input, const std::vector<std::size_t>& cuts) {
  Outcome outcome;
  RecordingSink sink;
  std::size_t from = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(input.size());
  for (const std::size_t to : ends) {
    const ChunkedDecoder::Result result = decoder.feed(input.substr(from, to - from), sink);
    outcome.consumed += result.consumed;
    outcome.status = result.status;
    outcome.error_status = result.error_status;
    outcome.body = sink.body;
    if (result.status != Status::kNeedMore) return outcome;
    EXPECT_EQ(result.consumed, to - from) << "kNeedMore must take every byte offered";
    from = to;
  }
  return outcome;
}

Outcome feed_whole(std::string_view input, std::size_t body_limit = kBodyLimit, std::size_t line_limit = 4096,
                   std::size_t trailer_limit = 8192) {
  ChunkedDecoder decoder(body_limit, line_limit, trailer_limit);
  return feed_in_pieces(decoder, input, {});
}

TEST(ChunkedDecoder, DecodesChunksAndStopsAtTheEnd) {
  const std::string message = "5\r\nhello\r\n1;ext=1\r\n \r\nA\r\n0123456789\r\n0\r\n\r\n";
  const std::string next_request = "GET / HTTP/1.1\r\n";
  const Outcome outcome = feed_whole(message + next_request);
  EXPECT_EQ(outcome.status, Status::kDone);
  EXPECT_EQ(outcome.consumed, message.size()) << "bytes of the next request are left alone";
  EXPECT_EQ(outcome.body, "hello 0123456789");
}

TEST(ChunkedDecoder, ReservesEachChunkWhenItsSizeLineEndsBeforeItsData) {
  ChunkedDecoder decoder(kBodyLimit);
  RecordingSink sink;
  EXPECT_EQ(decoder.feed("5;a=b", sink).status, Status::kNeedMore);
  EXPECT_TRUE(sink.reservations.empty()) << "the size line is not complete yet";
  EXPECT_EQ(decoder.feed("\r", sink).status, Status::kNeedMore);
  EXPECT_TRUE(sink.reservations.empty());
  EXPECT_EQ(decoder.feed("\n", sink).status, Status::kNeedMore);
  EXPECT_EQ(sink.reservations, std::vector<std::uint64_t>{5});
  EXPECT_TRUE(sink.body.empty());
  EXPECT_EQ(decoder.feed("hel", sink).status, Status::kNeedMore);
  EXPECT_EQ(sink.body, "hel");
  EXPECT_EQ(decoder.feed("lo\r\na\r\n0123456789\r\n0\r\n\r\n", sink).status, Status::kDone);
  EXPECT_EQ(sink.reservations, (std::vector<std::uint64_t>{5, 10})) << "the last chunk announces nothing";
  EXPECT_EQ(sink.body, "hello0123456789");
}

TEST(ChunkedDecoder, SinkRefusalIsTheErrorAndNoDataFollows) {
  ChunkedDecoder decoder(kBodyLimit);
  RecordingSink sink;
  sink.allowance = 4;
  sink.refusal = 507;
  const std::string message = "3\r\nabc\r\n2\r\nxy\r\n0\r\n\r\n";
  const ChunkedDecoder::Result result = decoder.feed(message, sink);
  EXPECT_EQ(result.status, Status::kError);
  EXPECT_EQ(result.error_status, 507);
  EXPECT_LE(result.consumed, message.find("xy"));
  EXPECT_EQ(sink.reservations, (std::vector<std::uint64_t>{3, 2}));
  EXPECT_EQ(sink.body, "abc") << "nothing of the refused chunk is appended";
  const ChunkedDecoder::Result again = decoder.feed("xy\r\n", sink);
  EXPECT_EQ(again.status, Status::kError);
  EXPECT_EQ(again.error_status, 507);
  EXPECT_EQ(again.consumed, 0u);
}

TEST(ChunkedDecoder, BodyLimitIsCheckedBeforeTheSinkIsAsked) {
  ChunkedDecoder decoder(4);
  RecordingSink sink;
  sink.allowance = 0;
  sink.refusal = 507;
  const ChunkedDecoder::Result result = decoder.feed("5\r\nhello\r\n", sink);
  EXPECT_EQ(result.status, Status::kError);
  EXPECT_EQ(result.error_status, 413);
  EXPECT_TRUE(sink.reservations.empty());
}

struct GoodCase {
  const char* name;
  std::string message;
  std::string body;
};

const std::vector<GoodCase>& good_cases() {
  static const std::vector<GoodCase> cases = {
      {"empty body", "0\r\n\r\n", ""},
      {"several zeros as last chunk", "000\r\n\r\n", ""},
      {"uppercase and lowercase hex", "a\r\n0123456789\r\nB\r\nabcdefghijk\r\n0\r\n\r\n", "0123456789abcdefghijk"},
      {"leading zeros within 16 digits", "0000000000000003\r\nabc\r\n0\r\n\r\n", "abc"},
      {"extension without value", "3;foo\r\nabc\r\n0\r\n\r\n", "abc"},
      {"extension with token value", "3;foo=bar;baz=1\r\nabc\r\n0;last\r\n\r\n", "abc"},
      {"extension with quoted value", "3;foo=\"a b;c\"\r\nabc\r\n0\r\n\r\n", "abc"},
      {"extension with empty quoted value", "3;foo=\"\"\r\nabc\r\n0\r\n\r\n", "abc"},
      {"extension with quoted-pair", "3;foo=\"a\\\"b\\\\\"\r\nabc\r\n0\r\n\r\n", "abc"},
      {"extension with obs-text in quotes", "3;foo=\"caf\xc3\xa9\"\r\nabc\r\n0\r\n\r\n", "abc"},
      {"several extensions", "3;a;b=c;d=\"e\"\r\nabc\r\n0\r\n\r\n", "abc"},
      {"BWS everywhere it may be", "3 ; a = b ;\tc\t=\t\"d\" ; e\r\nabc\r\n0\r\n\r\n", "abc"},
      {"BWS before semicolon", "3 \t ;foo = bar\r\nabc\r\n0 ;x\r\n\r\n", "abc"},
      {"tab as BWS", "3\t;foo\r\nabc\r\n0\t;x\r\n\r\n", "abc"},
      {"data holding CRLF and NUL", "6\r\n\r\n\0\r\n\n\r\n0\r\n\r\n"s, "\r\n\0\r\n\n"s},
      {"trailer fields", "3\r\nabc\r\n0\r\nX-Checksum: 123\r\nX-Other:\tv w \r\n\r\n", "abc"},
      {"trailer with empty value", "0\r\nX-Empty:\r\n\r\n", ""},
  };
  return cases;
}

TEST(ChunkedDecoder, AcceptsValidMessages) {
  for (const GoodCase& c : good_cases()) {
    SCOPED_TRACE(c.name);
    const Outcome outcome = feed_whole(c.message);
    EXPECT_EQ(outcome.status, Status::kDone) << outcome.error_status;
    EXPECT_EQ(outcome.consumed, c.message.size());
    EXPECT_EQ(outcome.body, c.body);
  }
}

struct BadCase {
  const char* name;
  std::string message;
  int status;
};

const std::vector<BadCase>& bad_cases() {
  static const std::vector<BadCase> cases = {
      {"empty size", "\r\nabc\r\n0\r\n\r\n", 400},
      {"size not hex", "g\r\n", 400},
      {"0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", 400},
      {"plus sign", "+5\r\nhello\r\n0\r\n\r\n", 400},
      {"minus sign", "-5\r\nhello\r\n0\r\n\r\n", 400},
      {"leading whitespace", " 5\r\nhello\r\n0\r\n\r\n", 400},
      {"17 hex digits", "00000000000000005\r\nhello\r\n0\r\n\r\n", 400},
      {"overflowing size", "1ffffffffffffffff\r\n", 400},
      {"semicolon without size", ";ext\r\n", 400},
      {"whitespace without extension", "5 \r\nhello\r\n0\r\n\r\n", 400},
      {"garbage after size", "5x\r\nhello\r\n0\r\n\r\n", 400},
      {"bare LF after size", "5\nhello\r\n0\r\n\r\n", 400},
      {"bare CR after size", "5\rhello\r\n0\r\n\r\n", 400},
      {"bare LF in extension", "5;a\nhello\r\n0\r\n\r\n", 400},
      {"NUL in extension", "5;a\0b\r\nhello\r\n0\r\n\r\n"s, 400},
      {"bare semicolon", "5;\r\nhello\r\n0\r\n\r\n", 400},
      {"two semicolons", "5;;a\r\nhello\r\n0\r\n\r\n", 400},
      {"trailing semicolon", "5;a=b;\r\nhello\r\n0\r\n\r\n", 400},
      {"extension without name", "5;=x\r\nhello\r\n0\r\n\r\n", 400},
      {"extension without value", "5;a=\r\nhello\r\n0\r\n\r\n", 400},
      {"extension name with space", "5;a b\r\nhello\r\n0\r\n\r\n", 400},
      {"extension value with space", "5;a=b c\r\nhello\r\n0\r\n\r\n", 400},
      {"whitespace after extension name", "5;a \r\nhello\r\n0\r\n\r\n", 400},
      {"whitespace after extension value", "5;a=b\t\r\nhello\r\n0\r\n\r\n", 400},
      {"extension name not a token", "5;a@b\r\nhello\r\n0\r\n\r\n", 400},
      {"extension value not a token", "5;a=b/c\r\nhello\r\n0\r\n\r\n", 400},
      {"unterminated quoted value", "5;a=\"xy\r\nhello\r\n0\r\n\r\n", 400},
      {"bytes after quoted value", "5;a=\"x\"y\r\nhello\r\n0\r\n\r\n", 400},
      {"CTL in quoted value", "5;a=\"x\x01\"\r\nhello\r\n0\r\n\r\n", 400},
      {"DEL in quoted value", "5;a=\"x\x7f\"\r\nhello\r\n0\r\n\r\n", 400},
      {"CTL in quoted-pair", "5;a=\"\\\x01\"\r\nhello\r\n0\r\n\r\n", 400},
      {"DEL in extension name", "5;a\x7f\r\nhello\r\n0\r\n\r\n", 400},
      {"obs-text in extension token", "5;caf\xc3\xa9\r\nhello\r\n0\r\n\r\n", 400},
      {"data longer than size", "3\r\nhello\r\n0\r\n\r\n", 400},
      {"missing CRLF after data", "5\r\nhello0\r\n\r\n", 400},
      {"bare LF after data", "5\r\nhello\n0\r\n\r\n", 400},
      {"bare CR after data", "5\r\nhello\r0\r\n\r\n", 400},
      {"bare LF as final line", "0\r\n\n", 400},
      {"bare CR as final line", "0\r\n\rx", 400},
      {"last chunk bare LF", "0\n\r\n", 400},
      {"trailer obs-fold", "0\r\nX-A: 1\r\n 2\r\n\r\n", 400},
      {"trailer leading whitespace", "0\r\n X-A: 1\r\n\r\n", 400},
      {"trailer without colon", "0\r\nX-A\r\n\r\n", 400},
      {"trailer space before colon", "0\r\nX-A : 1\r\n\r\n", 400},
      {"trailer bare LF", "0\r\nX-A: 1\n\r\n", 400},
      {"trailer NUL", "0\r\nX-A: \0\r\n\r\n"s, 400},
      {"trailer bare CR", "0\r\nX-A: 1\rx\r\n", 400},
      {"chunk over body limit", "401\r\n", 413},
      {"chunks together over body limit", "200\r\n" + std::string(0x200, 'a') + "\r\n201\r\n", 413},
      {"huge chunk", "ffffffffffffffff\r\n", 413},
  };
  return cases;
}

TEST(ChunkedDecoder, RefusesMalformedMessagesWithExactStatus) {
  for (const BadCase& c : bad_cases()) {
    SCOPED_TRACE(c.name);
    const Outcome outcome = feed_whole(c.message);
    EXPECT_EQ(outcome.status, Status::kError);
    EXPECT_EQ(outcome.error_status, c.status);
  }
}

TEST(ChunkedDecoder, BodyOfExactlyTheLimitFits) {
  const std::string message = "200\r\n" + std::string(0x200, 'a') + "\r\n200\r\n" + std::string(0x200, 'b') +
                              "\r\n0\r\n\r\n";
  const Outcome outcome = feed_whole(message, 0x400);
  EXPECT_EQ(outcome.status, Status::kDone);
  EXPECT_EQ(outcome.body.size(), 0x400u);
}

TEST(ChunkedDecoder, OverLimitChunkIsRefusedBeforeItsData) {
  ChunkedDecoder decoder(10);
  RecordingSink sink;
  const ChunkedDecoder::Result result = decoder.feed("b", sink);
  EXPECT_EQ(result.status, Status::kNeedMore) << "the size may still grow or end";
  const ChunkedDecoder::Result refused = decoder.feed(";", sink);
  EXPECT_EQ(refused.status, Status::kError);
  EXPECT_EQ(refused.error_status, 413);
  EXPECT_TRUE(sink.body.empty());
  EXPECT_TRUE(sink.reservations.empty());
}

TEST(ChunkedDecoder, SizeLineLimit) {
  const std::string extension = std::string(";") + std::string(8, 'e');  // size line "5;eeeeeeee" is 10 bytes
  const std::string message = "5" + extension + "\r\nhello\r\n0\r\n\r\n";
  EXPECT_EQ(feed_whole(message, kBodyLimit, 10).status, Status::kDone);
  const Outcome outcome = feed_whole(message, kBodyLimit, 9);
  EXPECT_EQ(outcome.status, Status::kError);
  EXPECT_EQ(outcome.error_status, 400);
  // The cap holds for an endless extension that never reaches CRLF.
  const Outcome endless = feed_whole("5;" + std::string(100, 'x'), kBodyLimit, 16);
  EXPECT_EQ(endless.status, Status::kError);
  EXPECT_EQ(endless.error_status, 400);
}

TEST(ChunkedDecoder, TrailerLimitGives431) {
  const std::string trailer = "X-A: 12345\r\n";  // 12 bytes
  const std::string message = "0\r\n" + trailer + trailer + "\r\n";
  EXPECT_EQ(feed_whole(message, kBodyLimit, 4096, 24).status, Status::kDone);
  const Outcome outcome = feed_whole(message, kBodyLimit, 4096, 23);
  EXPECT_EQ(outcome.status, Status::kError);
  EXPECT_EQ(outcome.error_status, 431);
}

TEST(ChunkedDecoder, ErrorAndDoneAreSticky) {
  ChunkedDecoder decoder(kBodyLimit);
  RecordingSink sink;
  EXPECT_EQ(decoder.feed("z", sink).status, Status::kError);
  const ChunkedDecoder::Result again = decoder.feed("0\r\n\r\n", sink);
  EXPECT_EQ(again.status, Status::kError);
  EXPECT_EQ(again.error_status, 400);
  EXPECT_EQ(again.consumed, 0u);

  ChunkedDecoder finished(kBodyLimit);
  EXPECT_EQ(finished.feed("0\r\n\r\n", sink).status, Status::kDone);
  const ChunkedDecoder::Result after = finished.feed("1\r\nx\r\n", sink);
  EXPECT_EQ(after.status, Status::kDone);
  EXPECT_EQ(after.consumed, 0u);
  EXPECT_TRUE(sink.body.empty());
  EXPECT_TRUE(sink.reservations.empty());
}

TEST(ChunkedDecoder, ResetStartsANewMessageWithTheSameLimits) {
  ChunkedDecoder decoder(4);
  RecordingSink first;
  ASSERT_EQ(decoder.feed("4\r\nabcd\r\n0\r\n\r\n", first).status, Status::kDone);
  decoder.reset();
  RecordingSink second;
  EXPECT_EQ(decoder.feed("4\r\nwxyz\r\n0\r\n\r\n", second).status, Status::kDone) << "body count restarts";
  EXPECT_EQ(second.body, "wxyz");
  decoder.reset();
  const ChunkedDecoder::Result over = decoder.feed("5\r\n", second);
  EXPECT_EQ(over.status, Status::kError);
  EXPECT_EQ(over.error_status, 413);
  decoder.reset();
  EXPECT_EQ(decoder.feed("0\r\n\r\n", second).status, Status::kDone) << "reset clears an error";
}

TEST(ChunkedDecoder, EmptyInputNeedsMore) {
  ChunkedDecoder decoder(kBodyLimit);
  RecordingSink sink;
  const ChunkedDecoder::Result result = decoder.feed("", sink);
  EXPECT_EQ(result.status, Status::kNeedMore);
  EXPECT_EQ(result.consumed, 0u);
}

// The split must never change the outcome: every single cut point, every pair of cut points, and one
// byte at a time all agree with feeding the whole message.
void expect_split_invariant(const std::string& input) {
  const Outcome whole = feed_whole(input);
  auto expect_same = [&](const Outcome& split, const std::string& how) {
    EXPECT_EQ(split.status, whole.status) << how;
    EXPECT_EQ(split.error_status, whole.error_status) << how;
    EXPECT_EQ(split.body, whole.body) << how;
    if (whole.status == Status::kDone) {
      EXPECT_EQ(split.consumed, whole.consumed) << how;
    }
  };
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    ChunkedDecoder decoder(kBodyLimit);
    expect_same(feed_in_pieces(decoder, input, {cut}), "cut at " + std::to_string(cut));
  }
  for (std::size_t first = 0; first <= input.size(); ++first) {
    for (std::size_t second = first; second <= input.size(); ++second) {
      ChunkedDecoder decoder(kBodyLimit);
      expect_same(feed_in_pieces(decoder, input, {first, second}),
                  "cuts at " + std::to_string(first) + "," + std::to_string(second));
    }
  }
  std::vector<std::size_t> every_byte;
  for (std::size_t i = 1; i < input.size(); ++i) every_byte.push_back(i);
  ChunkedDecoder decoder(kBodyLimit);
  expect_same(feed_in_pieces(decoder, input, every_byte), "one byte at a time");
}

TEST(ChunkedDecoder, ValidMessagesDecodeTheSameAtEverySplit) {
  for (const GoodCase& c : good_cases()) {
    SCOPED_TRACE(c.name);
    expect_split_invariant(c.message + "NEXT");
  }
}

TEST(ChunkedDecoder, MalformedMessagesFailTheSameAtEverySplit) {
  for (const BadCase& c : bad_cases()) {
    SCOPED_TRACE(c.name);
    expect_split_invariant(c.message);
  }
}

}  // namespace
}  // namespace http
