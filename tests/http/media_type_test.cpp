// Content-Type syntax (RFC 9110 8.3.1): tokens, parameters, quoted-strings, CTLs and the length limit.
#include "http/media_type.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace http {
namespace {

TEST(MediaType, Valid) {
  for (const std::string_view good : {
           "text/plain", "application/octet-stream", "image/svg+xml", "application/vnd.api+json", "*/*",
           "TEXT/PLAIN", "a/b", "text/plain;charset=utf-8", "text/plain; charset=utf-8",
           "text/plain ; charset=utf-8", "text/plain\t;\tcharset=utf-8", "text/plain;charset=\"utf-8\"",
           "multipart/form-data; boundary=\"a b;c=d\"", "text/plain; a=b; c=d", "text/plain; a=\"\"",
           "text/plain; a=\"with \\\"escaped\\\" quotes\"", "text/plain; a=\"back\\\\slash\"",
           "text/plain; a=\"tab\there\"", "text/plain; a=\"\xc3\xa9\"",  // obs-text inside quotes
           "text/plain;", "text/plain; ", "text/plain; ; a=b", "text/plain;;",  // RFC 9110 allows empty parameters
       }) {
    EXPECT_TRUE(is_valid_media_type(good)) << good;
  }
}

TEST(MediaType, Invalid) {
  for (const std::string_view bad : {
           "", "text", "text/", "/plain", "/", "text /plain", "text/ plain", "text/plain/x", "text/pl@in",
           "te(x)t/plain", "text/plain charset=utf-8", "text/plain;charset", "text/plain;charset=",
           "text/plain;charset =utf-8", "text/plain;charset= utf-8", "text/plain;=utf-8",
           "text/plain;charset=utf 8", "text/plain;charset=\"utf-8", "text/plain;charset=\"a\"b",
           "text/plain;charset=\"a\\\"", "text/plain;charset=a\"b\"", "text/plain,text/html",
           "text/pl\xc3\xa9in", "text/plain;a=\xc3\xa9",  // obs-text outside quotes
           "text/plain ", " text/plain",
       }) {
    EXPECT_FALSE(is_valid_media_type(bad)) << bad;
  }
}

TEST(MediaType, ControlBytes) {
  for (int c = 0; c < 0x20; ++c) {
    const char byte = static_cast<char>(c);
    EXPECT_FALSE(is_valid_media_type(std::string("text/pl") + byte + "ain")) << c;
    // Inside a quoted-string, as qdtext or escaped, HTAB is the one control byte allowed.
    EXPECT_EQ(is_valid_media_type(std::string("text/plain; a=\"") + byte + "\""), c == '\t') << c;
    EXPECT_EQ(is_valid_media_type(std::string("text/plain; a=\"\\") + byte + "\""), c == '\t') << c;
  }
  EXPECT_FALSE(is_valid_media_type("text/plain\x7f"));
  EXPECT_FALSE(is_valid_media_type("text/plain; a=\"\x7f\""));
  EXPECT_FALSE(is_valid_media_type(std::string_view("text/plain\0", 11)));
  EXPECT_FALSE(is_valid_media_type(std::string_view("text/plain; a=\"\0\"", 17)));
}

TEST(MediaType, LengthLimit) {
  const std::string prefix = "application/";
  const std::string at_limit = prefix + std::string(kMaxContentTypeBytes - prefix.size(), 'x');
  ASSERT_EQ(at_limit.size(), 256u);
  EXPECT_TRUE(is_valid_media_type(at_limit));
  EXPECT_FALSE(is_valid_media_type(at_limit + "x"));
  const std::string params = "text/plain; a=\"" + std::string(kMaxContentTypeBytes - 16, 'q') + "\"";
  ASSERT_EQ(params.size(), 256u);
  EXPECT_TRUE(is_valid_media_type(params));
  EXPECT_FALSE(is_valid_media_type(params + ";"));
}

}  // namespace
}  // namespace http
