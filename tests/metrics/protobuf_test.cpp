#include "metrics/protobuf.h"

#include <gtest/gtest.h>

#include <string>

#include "proto_decode.h"

namespace metrics {
namespace {

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (const int v : values) out.push_back(static_cast<char>(v));
  return out;
}

TEST(ProtoWriter, VarintsAndZigzagAsTheSpecificationSpellsThem) {
  std::string out;
  ProtoWriter w(out);
  w.varint_field(1, 0);
  w.varint_field(1, 127);
  w.varint_field(1, 300);  // the encoding guide's example: ac 02
  EXPECT_EQ(out, bytes({0x08, 0x00, 0x08, 0x7f, 0x08, 0xac, 0x02}));
  out.clear();
  w.sint_field(2, 0);
  w.sint_field(2, -1);
  w.sint_field(2, 1);
  w.sint_field(2, -2);
  w.sint_field(2, -2147483648LL);
  EXPECT_EQ(out, bytes({0x10, 0x00, 0x10, 0x01, 0x10, 0x02, 0x10, 0x03, 0x10, 0xff, 0xff, 0xff, 0xff, 0x0f}));
  out.clear();
  w.varint_field(16, UINT64_MAX);  // a two-byte tag and a ten-byte varint
  EXPECT_EQ(out, bytes({0x80, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}));
}

TEST(ProtoWriter, DoublesAreLittleEndianFixed64) {
  std::string out;
  ProtoWriter w(out);
  w.double_field(2, 1.0);
  EXPECT_EQ(out, bytes({0x11, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f}));
}

TEST(ProtoWriter, StringsAndPackedSints) {
  std::string out;
  ProtoWriter w(out);
  w.string_field(1, "testing");  // the guide's example: 0a 07 74 65 73 74 69 6e 67
  EXPECT_EQ(out, bytes({0x0a, 0x07, 't', 'e', 's', 't', 'i', 'n', 'g'}));
  out.clear();
  const std::int64_t values[] = {3, -1, 150};
  w.packed_sint_field(13, values, 3);
  EXPECT_EQ(out, bytes({0x6a, 0x04, 0x06, 0x01, 0xac, 0x02}));
  out.clear();
  w.packed_sint_field(13, values, 0);
  EXPECT_TRUE(out.empty());
}

TEST(ProtoWriter, NestedMessagesOfAnyLength) {
  std::string out;
  ProtoWriter w(out);
  w.begin_delimited();
  w.string_field(1, "family");
  w.begin(4);
  w.string_field(1, std::string(200, 'x'));  // the inner length needs two bytes: the bytes move along
  w.begin(2);
  w.double_field(1, 2.5);
  w.end();
  w.end();
  w.begin(4);
  w.end();  // an empty message
  EXPECT_EQ(w.depth(), 1u);
  w.end();
  EXPECT_EQ(w.depth(), 0u);

  const auto messages = proto_test::split_delimited(out);
  ASSERT_TRUE(messages);
  ASSERT_EQ(messages->size(), 1u);
  const auto family = proto_test::decode((*messages)[0]);
  ASSERT_TRUE(family);
  ASSERT_EQ(family->size(), 3u);
  EXPECT_EQ((*family)[0].bytes, "family");
  const auto metric = proto_test::decode((*family)[1].bytes);
  ASSERT_TRUE(metric);
  ASSERT_EQ(metric->size(), 2u);
  EXPECT_EQ((*metric)[0].bytes, std::string(200, 'x'));
  const auto gauge = proto_test::decode((*metric)[1].bytes);
  ASSERT_TRUE(gauge);
  EXPECT_EQ((*gauge)[0].fixed, 2.5);
  EXPECT_EQ((*family)[2].bytes, "");
}

}  // namespace
}  // namespace metrics
