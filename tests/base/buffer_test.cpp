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
  ASSERT_TRUE(b.append("hello "));
  ASSERT_TRUE(b.append("world"));
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
    ASSERT_TRUE(b.append(piece));
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
  ASSERT_TRUE(b.append("ab"));
  auto space = b.writable(10);
  ASSERT_GE(space.size(), 10u);
  space[0] = 'c';
  b.commit(1);
  EXPECT_EQ(b.readable(), "abc");
}

TEST(BufferTest, ShrinkReleasesLargeEmptyStorageOnly) {
  base::Buffer b;
  ASSERT_TRUE(b.append(std::string(100000, 'x')));
  b.shrink_if_empty_and_larger_than(1024);
  EXPECT_GT(b.capacity(), 1024u) << "must not drop unread bytes";
  b.consume(b.size());
  b.shrink_if_empty_and_larger_than(1024);
  EXPECT_EQ(b.capacity(), 0u);
}

}  // namespace

namespace {

TEST(BufferTest, GrowthIsChargedAndRefusedPastTheAccountLimit) {
  base::MemoryAccount account(16 * 1024);
  {
    base::Buffer b(&account);
    ASSERT_TRUE(b.append(std::string(5000, 'x')));
    EXPECT_EQ(account.used(), b.capacity());
    EXPECT_FALSE(b.append(std::string(12000, 'y'))) << "would need 32 KiB of a 16 KiB budget";
    EXPECT_EQ(b.readable(), std::string(5000, 'x')) << "a refused append changes nothing";
    EXPECT_TRUE(b.writable(20000).empty());
    b.consume(b.size());
    b.shrink_if_empty_and_larger_than(0);
    EXPECT_EQ(account.used(), 0u);
    ASSERT_TRUE(b.append("again"));
  }
  EXPECT_EQ(account.used(), 0u) << "destruction releases the charge";
}

TEST(BufferTest, MovesKeepBytesAndCharge) {
  base::MemoryAccount account(1 << 20);
  base::Buffer a(&account);
  ASSERT_TRUE(a.append("payload"));
  const std::size_t charged = account.used();
  base::Buffer b = std::move(a);
  EXPECT_EQ(b.readable(), "payload");
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(account.used(), charged);
}

}  // namespace
