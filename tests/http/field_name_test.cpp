// field_name_is against the byte-by-byte case-insensitive comparison, for known names of every length the
// word loads treat differently, with every byte value in every position of the received name.
#include "http/field_name.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "base/text.h"

namespace http {
namespace {

TEST(FieldName, AgreesWithCaseInsensitiveEqualityForEveryByte) {
  const std::string_view known_names[] = {"a",        "te",           "age",           "host",
                                          "range",    "accept",       "expect",        "if-match",
                                          "if-range", "content-type", "if-none-match", "authorization",
                                          "content-length", "if-modified-since", "if-unmodified-since",
                                          "access-control-request-headers"};
  for (const std::string_view known : known_names) {
    for (std::size_t position = 0; position < known.size(); ++position) {
      for (int c = 0; c < 256; ++c) {
        std::string name(known);
        name[position] = static_cast<char>(c);
        ASSERT_EQ(field_name_is(name, known), base::equals_ignore_case(name, known)) << known << " " << name;
      }
    }
  }
}

TEST(FieldName, IgnoresCaseAndLength) {
  EXPECT_TRUE(field_name_is("If-None-Match", "if-none-match"));
  EXPECT_TRUE(field_name_is("IF-UNMODIFIED-SINCE", "if-unmodified-since"));
  EXPECT_TRUE(field_name_is("RaNgE", "range"));
  EXPECT_TRUE(field_name_is("TE", "te"));
  EXPECT_FALSE(field_name_is("If-None-Matc", "if-none-match"));
  EXPECT_FALSE(field_name_is("If-None-Matchx", "if-none-match"));
  EXPECT_FALSE(field_name_is("If_None_Match", "if-none-match"));
  EXPECT_FALSE(field_name_is("If-None\rMatch", "if-none-match")) << "a CR is not a '-' (0x0D | 0x20 is '-')";
  EXPECT_FALSE(field_name_is("", "a"));
  EXPECT_TRUE(field_name_is("", ""));
}

}  // namespace
}  // namespace http
