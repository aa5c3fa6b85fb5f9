#include "app/config_values.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace app {
namespace {

TEST(ParseSize, PlainCountsAndBinarySuffixes) {
  struct Case {
    std::string_view text;
    std::uint64_t bytes;
  };
  const Case cases[] = {
      {"0", 0},
      {"1", 1},
      {"65536", 65536},
      {"1K", 1024},
      {"1Ki", 1024},
      {"1KiB", 1024},
      {"3k", 3072},
      {"2kib", 2048},
      {"2M", 2u << 20},
      {"2Mi", 2u << 20},
      {"2MiB", 2u << 20},
      {"1G", std::uint64_t{1} << 30},
      {"1Gi", std::uint64_t{1} << 30},
      {"4GiB", std::uint64_t{4} << 30},
      {"007", 7},
      {"16777215G", std::uint64_t{16777215} << 30},
      {"17179869183G", std::uint64_t{17179869183} << 30},
      {"18446744073709551615", UINT64_MAX},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(parse_size(c.text), c.bytes);
  }
}

TEST(ParseSize, RejectsEverythingElse) {
  for (const std::string_view text :
       {"", "K", "10X", "10MB", "10KB", "1.5M", "-1", "+1", " 1", "1 ", "1 K", "1T", "0x10", "17179869184G",
        "18446744073709551616", "1KiBs", "1iB"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(parse_size(text), std::nullopt);
  }
}

TEST(ParseDuration, MillisecondsAndUnits) {
  struct Case {
    std::string_view text;
    std::uint64_t ms;
  };
  const Case cases[] = {
      {"0", 0},     {"0s", 0},      {"1", 1},           {"1ms", 1},         {"250", 250},         {"3s", 3000},
      {"2m", 120000}, {"86400000", 86400000}, {"86400s", 86400000}, {"1440m", 86400000},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(parse_duration_ms(c.text), c.ms);
  }
  for (const std::string_view text : {"", "s", "1h", "1.5s", "-5", "5S", "5 s", "99999999999999999999m",
                                      "307445734561825861m"}) {
    SCOPED_TRACE(text);
    EXPECT_EQ(parse_duration_ms(text), std::nullopt);
  }
}

TEST(ParseBool, WordsInAnyCase) {
  for (const std::string_view text : {"true", "1", "yes", "on", "TRUE", "Yes"}) {
    EXPECT_EQ(parse_bool(text), true) << text;
  }
  for (const std::string_view text : {"false", "0", "no", "off", "Off", "NO"}) {
    EXPECT_EQ(parse_bool(text), false) << text;
  }
  for (const std::string_view text : {"", "maybe", "2", "y", "n", " true", "truee"}) {
    EXPECT_EQ(parse_bool(text), std::nullopt) << text;
  }
}

TEST(ParsePort, ZeroTo65535) {
  EXPECT_EQ(parse_port("0"), 0);
  EXPECT_EQ(parse_port("80"), 80);
  EXPECT_EQ(parse_port("65535"), 65535);
  EXPECT_EQ(parse_port("00080"), 80);
  for (const std::string_view text : {"", "65536", "70000", "-1", "+80", "80x", "8 0", "0x50",
                                      "99999999999999999999999"}) {
    EXPECT_EQ(parse_port(text), std::nullopt) << text;
  }
}

TEST(ParseHost, AddressLiterals) {
  struct Case {
    std::string_view text;
    std::string_view host;
  };
  const Case cases[] = {
      {"0.0.0.0", "0.0.0.0"}, {"10.1.2.3", "10.1.2.3"}, {"::", "::"},
      {"::1", "::1"},         {"[::1]", "::1"},         {"fe80::1:2", "fe80::1:2"},
      {"localhost", "127.0.0.1"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(parse_host(c.text), std::string(c.host)) << c.text;
  }
  for (const std::string_view text : {"", "example.com", "1.2.3", "1.2.3.4:80", "[::1", " 127.0.0.1", "[]"}) {
    EXPECT_EQ(parse_host(text), std::nullopt) << text;
  }
}

TEST(ParseIncreasingList, PositiveFiniteStrictlyIncreasing) {
  struct Case {
    std::string_view text;
    std::vector<double> values;
  };
  const Case cases[] = {
      {"1", {1}},
      {"0.005,0.05,0.5,5", {0.005, 0.05, 0.5, 5}},
      {"0.001, 0.01 ,0.1", {0.001, 0.01, 0.1}},
      {"1e-3,2.5e-1,10", {0.001, 0.25, 10}},
      {"", {}},
      {"  ", {}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(parse_increasing_list(c.text), c.values) << c.text;
  }
  for (const std::string_view text : {"0.1,0.05", "0.1,0.1", "0,1", "-1,1", "0.1,inf", "0.1,+Inf", "nan",
                                      "0.1,,1", "0.1,", ",1", "0.1;1", "1s", "1e999"}) {
    EXPECT_EQ(parse_increasing_list(text), std::nullopt) << text;
  }
}

TEST(FormatValues, LargestExactUnitAndBackAgain) {
  EXPECT_EQ(format_size(0), "0");
  EXPECT_EQ(format_size(1000), "1000");
  EXPECT_EQ(format_size(1024), "1KiB");
  EXPECT_EQ(format_size(1536), "1536");
  EXPECT_EQ(format_size(270336), "264KiB");
  EXPECT_EQ(format_size(64u << 20), "64MiB");
  EXPECT_EQ(format_size(std::uint64_t{3} << 30), "3GiB");
  EXPECT_EQ(format_size(std::uint64_t{1} << 40), "1024GiB");
  EXPECT_EQ(format_duration(0), "0");
  EXPECT_EQ(format_duration(250), "250ms");
  EXPECT_EQ(format_duration(30000), "30s");
  EXPECT_EQ(format_duration(60000), "1m");
  EXPECT_EQ(format_duration(90000), "90s");
  EXPECT_EQ(format_list({}), "");
  EXPECT_EQ(format_list({0.005, 0.25, 10}), "0.005,0.25,10");
  // What is shown can be given back.
  for (const std::uint64_t bytes : {std::uint64_t{1}, std::uint64_t{1536}, std::uint64_t{264} << 10,
                                    std::uint64_t{7} << 30}) {
    EXPECT_EQ(parse_size(format_size(bytes)), bytes);
  }
  for (const std::uint64_t ms : {1u, 999u, 1000u, 61000u, 120000u}) {
    EXPECT_EQ(parse_duration_ms(format_duration(ms)), ms);
  }
  const std::vector<double> bounds{5e-05, 0.001, 2.5, 10};
  EXPECT_EQ(parse_increasing_list(format_list(bounds)), bounds);
}

}  // namespace
}  // namespace app
