#include "http/accept.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace http {
namespace {

// Each element as "type/subtype[;name=value...] q" (or "malformed"), for compact expectations.
std::vector<std::string> read_all(std::string_view accept) {
  std::vector<std::string> out;
  AcceptReader reader(accept);
  MediaRange range;
  for (;;) {
    const AcceptReader::Step step = reader.next(range);
    if (step == AcceptReader::Step::kEnd) return out;
    if (step == AcceptReader::Step::kMalformed) {
      out.emplace_back("malformed");
      continue;
    }
    std::string text = std::string(range.type) + "/" + std::string(range.subtype);
    for (std::size_t i = 0; i < range.parameter_count; ++i) {
      text += ";" + std::string(range.parameters[i].name) + "=" + std::string(range.parameters[i].value);
    }
    text += " " + std::to_string(range.weight);
    out.push_back(text);
  }
}

TEST(AcceptReader, ReadsRangesParametersAndWeights) {
  EXPECT_EQ(read_all("*/*"), (std::vector<std::string>{"*/* 1000"}));
  EXPECT_EQ(read_all("text/*;q=0.5, text/plain ; version=0.0.4 ;q=0.25"),
            (std::vector<std::string>{"text/* 500", "text/plain;version=0.0.4 250"}));
  EXPECT_EQ(read_all("a/b;x=\"q=1, y\";q=0.1,c/d"), (std::vector<std::string>{"a/b;x=\"q=1, y\" 100", "c/d 1000"}));
  EXPECT_EQ(read_all("A/B;Q=0"), (std::vector<std::string>{"A/B 0"}));
}

TEST(AcceptReader, SkipsEmptyElementsAndEmptyParameters) {
  EXPECT_EQ(read_all(""), std::vector<std::string>{});
  EXPECT_EQ(read_all(" , ,"), std::vector<std::string>{});
  EXPECT_EQ(read_all(",a/b;;c=d;,"), (std::vector<std::string>{"a/b;c=d 1000"}));
}

TEST(AcceptReader, ParametersAfterTheWeightAreIgnored) {
  EXPECT_EQ(read_all("a/b;q=0.5;level=1"), (std::vector<std::string>{"a/b 500"}));
}

TEST(AcceptReader, MalformedElementsAreSkippedAlone) {
  EXPECT_EQ(read_all("text, a/b"), (std::vector<std::string>{"malformed", "a/b 1000"}));
  EXPECT_EQ(read_all("*/plain,a/b"), (std::vector<std::string>{"malformed", "a/b 1000"}));
  EXPECT_EQ(read_all("te*t/plain,a/*"), (std::vector<std::string>{"malformed", "a/* 1000"}));
  EXPECT_EQ(read_all("a/b;q=2,c/d"), (std::vector<std::string>{"malformed", "c/d 1000"}));
  EXPECT_EQ(read_all("a/b;q=0.1234,c/d"), (std::vector<std::string>{"malformed", "c/d 1000"}));
  EXPECT_EQ(read_all("a/b;x,c/d"), (std::vector<std::string>{"malformed", "c/d 1000"}));
  EXPECT_EQ(read_all("a/b;x=,c/d"), (std::vector<std::string>{"malformed", "c/d 1000"}));
  EXPECT_EQ(read_all("a/b x,c/d"), (std::vector<std::string>{"malformed", "c/d 1000"}));
  // A comma inside a quoted-string does not end the bad element.
  EXPECT_EQ(read_all("a/b x=\"1,2\",c/d"), (std::vector<std::string>{"malformed", "c/d 1000"}));
  // An unterminated quote takes the rest of the field with it.
  EXPECT_EQ(read_all("a/b;x=\"1,c/d"), (std::vector<std::string>{"malformed"}));
}

TEST(AcceptReader, BoundsTheParameterCount) {
  std::string many = "a/b";
  for (std::size_t i = 0; i < kMaxMediaRangeParameters; ++i) many += ";p" + std::to_string(i) + "=v";
  EXPECT_EQ(read_all(many).size(), 1u);
  EXPECT_NE(read_all(many)[0], "malformed");
  EXPECT_EQ(read_all(many + ";extra=v,c/d"), (std::vector<std::string>{"malformed", "c/d 1000"}));
}

TEST(ParseQvalue, FollowsTheGrammar) {
  struct Case {
    std::string_view text;
    bool valid;
    std::uint16_t value;
  };
  const Case cases[] = {{"0", true, 0},      {"1", true, 1000},     {"0.", true, 0},       {"0.5", true, 500},
                        {"0.05", true, 50},  {"0.001", true, 1},    {"1.000", true, 1000}, {"1.", true, 1000},
                        {"1.001", false, 0}, {"0.0001", false, 0},  {".5", false, 0},      {"2", false, 0},
                        {"", false, 0},      {"0,5", false, 0},     {"-0", false, 0},      {"0.5x", false, 0}};
  for (const Case& c : cases) {
    std::uint16_t value = 12345;
    EXPECT_EQ(parse_qvalue(c.text, value), c.valid) << c.text;
    if (c.valid) {
      EXPECT_EQ(value, c.value) << c.text;
    }
  }
}

TEST(ParameterEquals, UnquotesAndComparesAsAsked) {
  EXPECT_TRUE(parameter_equals({"v", "0.0.4"}, "0.0.4", false));
  EXPECT_FALSE(parameter_equals({"v", "0.0.4"}, "0.0.40", false));
  EXPECT_TRUE(parameter_equals({"v", "\"0.0.4\""}, "0.0.4", false));
  EXPECT_TRUE(parameter_equals({"v", "\"0.\\0.4\""}, "0.0.4", false));
  EXPECT_FALSE(parameter_equals({"v", "\"0.0.4\""}, "0.0.", false));
  EXPECT_TRUE(parameter_equals({"c", "UTF-8"}, "utf-8", true));
  EXPECT_FALSE(parameter_equals({"c", "UTF-8"}, "utf-8", false));
  EXPECT_TRUE(parameter_equals({"c", "\"Utf-8\""}, "utf-8", true));
}

}  // namespace
}  // namespace http
