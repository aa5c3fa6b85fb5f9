#include "base/buffer.h"

#include <gtest/gtest.h>

#include <string>

namespace {

TEST(BufferTest, StartsEmptyWithoutStorage) {
  base::Buffer b;
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.capacity(), 0u);
}

TEST(BufferTest, AppendConsumeKeepsOrder) {
  base::Buffer b;
  b.append("hello ");
  b.append("world");
  EXPECT_EQ(b.readable(), "hello world");
  b.consume(6);
  EXPECT_EQ(b.readable(), "world");
  b.consume(5);
  EXPECT_TRUE(b.empty());
}

TEST(BufferTest, GrowsAndCompactsPreservingBytes) {
  base::Buffer b;
  std::string expected;
  for (int i = 0; i < 5000; ++i) {
    const std::string piece = std::to_string(i) + ",";
    b.append(piece);
    expected += piece;
    if (i % 3 == 0) {
      b.consume(2);
      expected.erase(0, 2);
    }
    ASSERT_EQ(b.readable(), expected) << i;
  }
}

TEST(BufferTest, WritableCommitAppends) {
  base::Buffer b;
  b.append("ab");
  auto space = b.writable(10);
  ASSERT_GE(space.size(), 10u);
  space[0] = 'c';
  b.commit(1);
  EXPECT_EQ(b.readable(), "abc");
}

TEST(BufferTest, ShrinkReleasesLargeEmptyStorageOnly) {
  base::Buffer b;
  b.append(std::string(100000, 'x'));
  b.shrink_if_empty_and_larger_than(1024);
  EXPECT_GT(b.capacity(), 1024u) << "must not drop unread bytes";
  b.consume(b.size());
  b.shrink_if_empty_and_larger_than(1024);
  EXPECT_EQ(b.capacity(), 0u);
}

}  // namespace
