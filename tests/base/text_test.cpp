#include "base/text.h"

#include <gtest/gtest.h>

namespace base {
namespace {

TEST(Text, EqualsIgnoreCaseIsAsciiOnly) {
  EXPECT_TRUE(equals_ignore_case("Content-Length", "content-LENGTH"));
  EXPECT_TRUE(equals_ignore_case("", ""));
  EXPECT_FALSE(equals_ignore_case("host", "hosts"));
  EXPECT_FALSE(equals_ignore_case("[", "{"));  // differ by 0x20 but are not letters
  EXPECT_FALSE(equals_ignore_case("\xc3\xa9", "\xc3\x89"));
}

TEST(Text, HexValue) {
  EXPECT_EQ(hex_value('0'), 0);
  EXPECT_EQ(hex_value('9'), 9);
  EXPECT_EQ(hex_value('a'), 10);
  EXPECT_EQ(hex_value('F'), 15);
  EXPECT_EQ(hex_value('g'), -1);
  EXPECT_EQ(hex_value('/'), -1);
  EXPECT_EQ(hex_value(':'), -1);
  EXPECT_EQ(hex_value('@'), -1);
  EXPECT_EQ(hex_value('`'), -1);
}

TEST(Text, TokenCharsAreRfc9110Tchars) {
  for (const char c : std::string_view("!#$%&'*+-.^_`|~09azAZ")) EXPECT_TRUE(is_token_char(c)) << c;
  for (const char c : std::string_view(" \t\"(),/:;<=>?@[\\]{}\x7f\x01")) EXPECT_FALSE(is_token_char(c)) << int(c);
  EXPECT_FALSE(is_token_char('\x80'));
}

TEST(Text, Trims) {
  EXPECT_EQ(trim_ows(" \t a b \t"), "a b");
  EXPECT_EQ(trim_ows(" \r\n"), "\r\n");
  EXPECT_EQ(trim_ows(""), "");
  EXPECT_EQ(trim_whitespace(" \t12 3\r\n"), "12 3");
  EXPECT_EQ(trim_whitespace("\n\n"), "");
}

TEST(Text, ParseUnsignedIsStrict) {
  EXPECT_EQ(parse_unsigned("0"), 0u);
  EXPECT_EQ(parse_unsigned("18446744073709551615"), UINT64_MAX);
  EXPECT_FALSE(parse_unsigned("18446744073709551616"));
  EXPECT_FALSE(parse_unsigned(""));
  EXPECT_FALSE(parse_unsigned("+1"));
  EXPECT_FALSE(parse_unsigned("-1"));
  EXPECT_FALSE(parse_unsigned(" 1"));
  EXPECT_FALSE(parse_unsigned("1 "));
  EXPECT_FALSE(parse_unsigned("0x10"));
}

TEST(Text, LeadingUnsignedSplitsTheSuffix) {
  const auto parsed = leading_unsigned("64MiB");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->first, 64u);
  EXPECT_EQ(parsed->second, "MiB");
  EXPECT_FALSE(leading_unsigned("MiB"));
  EXPECT_FALSE(leading_unsigned("99999999999999999999k"));
}

}  // namespace
}  // namespace base
