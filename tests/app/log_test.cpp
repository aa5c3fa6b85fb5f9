// Logger line format and JSON escaping. The queue and writer thread are tested in log_writer_test.cpp.
#include "app/log.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <ctime>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "app/log_test_support.h"

namespace app {
namespace {

using namespace std::string_literals;
using namespace std::string_view_literals;
using log_test::after_timestamp;
using log_test::all_digits;
using log_test::kLinePrefix;
using log_test::kTimestampLength;
using log_test::Pipe;
using log_test::split_lines;

// Everything `body` logs through a Logger on a pipe. The Logger is destroyed, so its queue is written out,
// before the pipe is read.
template <typename Body>
std::string logged_output(LogLevel level, Body body) {
  Pipe pipe;
  EXPECT_GE(pipe.write_end, 0);
  {
    const Logger logger(level, pipe.write_end);
    body(logger);
  }
  return pipe.drain();
}

std::string escaped(std::string_view text) {
  std::string out;
  append_json_escaped(out, text);
  return out;
}

int number_at(std::string_view text, std::size_t position, std::size_t length) {
  int value = 0;
  for (const char c : text.substr(position, length)) value = value * 10 + (c - '0');
  return value;
}

TEST(Logger, WritesOneJsonObjectPerLine) {
  const std::vector<std::string> lines = split_lines(logged_output(LogLevel::kDebug, [](const Logger& logger) {
    logger.info("server_started", {{"host", "0.0.0.0"sv}, {"port", std::int64_t{5000}}});
    logger.error("no_fields");
  }));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(after_timestamp(lines[0]), R"("level":"info","event":"server_started","host":"0.0.0.0","port":5000})");
  EXPECT_EQ(after_timestamp(lines[1]), R"("level":"error","event":"no_fields"})");
}

TEST(Logger, AppendLogLineFormatsWhatLogWrites) {
  const std::vector<std::string> written = split_lines(logged_output(LogLevel::kInfo, [](const Logger& logger) {
    logger.warn("same", {{"n", std::int64_t{7}}, {"text", "a\"b"sv}});
  }));
  std::string formatted = "kept:";
  append_log_line(formatted, LogLevel::kWarn, "same", {{"n", std::int64_t{7}}, {"text", "a\"b"sv}});
  ASSERT_EQ(written.size(), 1u);
  ASSERT_EQ(formatted.rfind("kept:", 0), 0u);
  ASSERT_EQ(formatted.back(), '\n');
  EXPECT_EQ(after_timestamp(formatted.substr(5, formatted.size() - 6)), after_timestamp(written[0]));
}

TEST(Logger, TimestampIsCurrentUtcTime) {
  std::time_t before = 0;
  std::time_t after = 0;
  const std::string line = logged_output(LogLevel::kInfo, [&](const Logger& logger) {
    before = std::time(nullptr);
    logger.info("tick");
    after = std::time(nullptr);
  });
  ASSERT_GT(line.size(), kLinePrefix.size() + kTimestampLength);
  const std::string_view ts = std::string_view(line).substr(kLinePrefix.size(), kTimestampLength);
  ASSERT_TRUE(all_digits(ts.substr(0, 4))) << ts;
  std::tm parsed{};
  parsed.tm_year = number_at(ts, 0, 4) - 1900;
  parsed.tm_mon = number_at(ts, 5, 2) - 1;
  parsed.tm_mday = number_at(ts, 8, 2);
  parsed.tm_hour = number_at(ts, 11, 2);
  parsed.tm_min = number_at(ts, 14, 2);
  parsed.tm_sec = number_at(ts, 17, 2);
  const std::time_t logged = ::timegm(&parsed);
  EXPECT_GE(logged, before) << ts;
  EXPECT_LE(logged, after) << ts;
  EXPECT_LE(number_at(ts, 20, 3), 999);
}

TEST(Logger, WritesEveryValueType) {
  const std::string output = logged_output(LogLevel::kInfo, [](const Logger& logger) {
    logger.warn("types", {
                             {"literal", "text"},
                             {"view", "a\"b"sv},
                             {"negative", std::int64_t{-42}},
                             {"int64_min", std::numeric_limits<std::int64_t>::min()},
                             {"uint64_max", std::numeric_limits<std::uint64_t>::max()},
                             {"quarter", 0.25},
                             {"third", 1.0 / 3.0},
                             {"big", 1e300},
                             {"nan", std::numeric_limits<double>::quiet_NaN()},
                             {"inf", std::numeric_limits<double>::infinity()},
                             {"minus_inf", -std::numeric_limits<double>::infinity()},
                             {"yes", true},
                             {"no", false},
                         });
  });
  const std::vector<std::string> lines = split_lines(output);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(after_timestamp(lines[0]),
            R"("level":"warn","event":"types","literal":"text","view":"a\"b","negative":-42,)"
            R"("int64_min":-9223372036854775808,"uint64_max":18446744073709551615,"quarter":0.25,)"
            R"("third":0.3333333333333333,"big":1e+300,"nan":null,"inf":null,"minus_inf":null,)"
            R"("yes":true,"no":false})");
}

TEST(Logger, RawJsonFieldsAreWrittenVerbatim) {
  const std::vector<std::string> lines = split_lines(logged_output(LogLevel::kInfo, [](const Logger& logger) {
    logger.info("config", {{"config", R"({"port":5000,"buckets":[0.1,1]})"sv, true},
                           {"list", "[1,2]"sv, true},
                           {"empty_raw", ""sv, true},
                           {"not_raw", "[1,2]"sv}});
  }));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(after_timestamp(lines[0]),
            R"("level":"info","event":"config","config":{"port":5000,"buckets":[0.1,1]},"list":[1,2],)"
            R"("empty_raw":null,"not_raw":"[1,2]"})");
}

TEST(Logger, EscapesEventsKeysAndValues) {
  const std::string output = logged_output(LogLevel::kInfo, [](const Logger& logger) {
    logger.info("ev\"ent\n", {{"k\\ey", "line1\nline2\0end"sv}, {"path", "/a\xff"sv}});
  });
  const std::vector<std::string> lines = split_lines(output);
  ASSERT_EQ(lines.size(), 1u) << output;
  EXPECT_EQ(after_timestamp(lines[0]),
            R"("level":"info","event":"ev\"ent\n","k\\ey":"line1\nline2\u0000end","path":"/a\ufffd"})");
}

TEST(Logger, FiltersBelowConfiguredLevel) {
  struct Case {
    LogLevel configured;
    std::vector<std::string> expected_levels;
  };
  const Case cases[] = {
      {LogLevel::kDebug, {"debug", "info", "warn", "error", "warn"}},
      {LogLevel::kInfo, {"info", "warn", "error", "warn"}},
      {LogLevel::kWarn, {"warn", "error", "warn"}},
      {LogLevel::kError, {"error"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(static_cast<int>(c.configured));
    const std::vector<std::string> lines = split_lines(logged_output(c.configured, [&c](const Logger& logger) {
      logger.debug("e");
      logger.info("e");
      logger.warn("e");
      logger.error("e");
      logger.log(LogLevel::kWarn, "e");
      EXPECT_EQ(logger.enabled(LogLevel::kDebug), c.configured == LogLevel::kDebug);
      EXPECT_TRUE(logger.enabled(LogLevel::kError));
    }));
    ASSERT_EQ(lines.size(), c.expected_levels.size());
    for (std::size_t i = 0; i < lines.size(); ++i) {
      EXPECT_EQ(after_timestamp(lines[i]), "\"level\":\"" + c.expected_levels[i] + "\",\"event\":\"e\"}");
    }
  }
}

struct EscapeCase {
  std::string input;
  std::string expected;
};

TEST(JsonEscape, EscapesTable) {
  const EscapeCase cases[] = {
      {"", ""},
      {"plain text 123", "plain text 123"},
      {"\"", "\\\""},
      {"\\", "\\\\"},
      {"/", "/"},
      {"\n\r\t\b\f", "\\n\\r\\t\\b\\f"},
      {"\0"s, "\\u0000"},
      {"a\0b"s, "a\\u0000b"},
      {"\x01\x1f", "\\u0001\\u001f"},
      {"\x0b", "\\u000b"},
      {"\x1b[31m", "\\u001b[31m"},
      {"\x7f", "\x7f"},
      {" ~", " ~"},
      // Well-formed UTF-8 of each length passes through.
      {"caf\xc3\xa9", "caf\xc3\xa9"},
      {"\xe2\x82\xac", "\xe2\x82\xac"},
      {"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80"},
      {"\xc2\x80", "\xc2\x80"},
      {"\xef\xbf\xbf", "\xef\xbf\xbf"},
      {"\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"},
      {"\xed\x9f\xbf", "\xed\x9f\xbf"},
      // Every byte of a malformed sequence becomes one replacement character.
      {"\xff", "\\ufffd"},
      {"\xfe\xfe", "\\ufffd\\ufffd"},
      {"\x80", "\\ufffd"},
      {"a\xbf" "b", "a\\ufffdb"},
      {"\xc3", "\\ufffd"},
      {"\xc3" "A", "\\ufffdA"},
      {"\xe2\x82", "\\ufffd\\ufffd"},
      {"\xe2\x82" "A", "\\ufffd\\ufffdA"},
      {"\xc0\xaf", "\\ufffd\\ufffd"},          // overlong '/'
      {"\xc1\xbf", "\\ufffd\\ufffd"},          // overlong
      {"\xe0\x80\xaf", "\\ufffd\\ufffd\\ufffd"},  // overlong
      {"\xf0\x80\x80\xaf", "\\ufffd\\ufffd\\ufffd\\ufffd"},
      {"\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd"},  // surrogate U+D800
      {"\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"},  // U+110000
      {"\xf5\x80\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"},
      {"\xe2\x82\xac\xe2", "\xe2\x82\xac\\ufffd"},
      {"\xc3\xa9\x0a\"", "\xc3\xa9\\n\\\""},
  };
  for (const EscapeCase& c : cases) {
    SCOPED_TRACE(c.expected);
    EXPECT_EQ(escaped(c.input), c.expected);
  }
}

TEST(JsonEscape, AppendsToExistingText) {
  std::string out = "prefix:";
  append_json_escaped(out, "\"x\"");
  EXPECT_EQ(out, "prefix:\\\"x\\\"");
}

// Decodes the inside of a JSON string (as produced by append_json_escaped) back to UTF-8.
std::string json_unescape(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out.push_back(text[i]);
      continue;
    }
    const char kind = text[++i];
    switch (kind) {
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'u': {
        const unsigned code = static_cast<unsigned>(std::stoul(std::string(text.substr(i + 1, 4)), nullptr, 16));
        i += 4;
        if (code < 0x80) {
          out.push_back(static_cast<char>(code));
        } else {
          EXPECT_EQ(code, 0xfffdu);
          out += "\xef\xbf\xbd";
        }
        break;
      }
      default: out.push_back(kind);
    }
  }
  return out;
}

// Decodes code point by code point, checking each one's value against its encoded length.
bool is_well_formed_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const unsigned char lead = static_cast<unsigned char>(text[i]);
    std::size_t length = 1;
    std::uint32_t code = lead;
    std::uint32_t minimum = 0;
    if (lead >= 0xf0 && lead < 0xf8) {
      length = 4;
      code = lead & 0x07u;
      minimum = 0x10000;
    } else if (lead >= 0xe0 && lead < 0xf0) {
      length = 3;
      code = lead & 0x0fu;
      minimum = 0x800;
    } else if (lead >= 0xc0 && lead < 0xe0) {
      length = 2;
      code = lead & 0x1fu;
      minimum = 0x80;
    } else if (lead >= 0x80) {
      return false;
    }
    if (text.size() - i < length) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xc0u) != 0x80u) return false;
      code = (code << 6) | (next & 0x3fu);
    }
    if (code < minimum || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    i += length;
  }
  return true;
}

TEST(JsonEscape, RoundTripsRandomWellFormedText) {
  std::mt19937 random(7);
  std::uniform_int_distribution<int> pick_kind(0, 4);
  for (int round = 0; round < 500; ++round) {
    std::string text;
    for (int k = 0; k < 40; ++k) {
      switch (pick_kind(random)) {
        case 0: text.push_back(static_cast<char>(random() % 0x80)); break;
        case 1: text += "\xc3\xa9"; break;
        case 2: text += "\xe2\x82\xac"; break;
        case 3: text += "\xf0\x9f\x98\x80"; break;
        default: text += "\"\\"; break;
      }
    }
    const std::string out = escaped(text);
    for (const char c : out) ASSERT_GE(static_cast<unsigned char>(c), 0x20u) << out;
    ASSERT_EQ(json_unescape(out), text);
  }
}

TEST(JsonEscape, ArbitraryBytesGiveControlFreeWellFormedOutput) {
  std::mt19937 random(11);
  for (int round = 0; round < 500; ++round) {
    std::string bytes;
    for (int k = 0; k < 64; ++k) bytes.push_back(static_cast<char>(random() & 0xff));
    const std::string out = escaped(bytes);
    for (std::size_t i = 0; i < out.size(); ++i) {
      const unsigned char c = static_cast<unsigned char>(out[i]);
      ASSERT_GE(c, 0x20u);
      if (c == '"') {
        ASSERT_TRUE(i > 0 && out[i - 1] == '\\') << out;
      }
    }
    ASSERT_TRUE(is_well_formed_utf8(json_unescape(out))) << out;
  }
}

}  // namespace
}  // namespace app
