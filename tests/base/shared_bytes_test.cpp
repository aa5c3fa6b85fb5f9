#include "base/shared_bytes.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace base {
namespace {

TEST(ByteBuilder, ChargesItsWholeAllocationBeforeGrowing) {
  MemoryAccount account(1 << 20);
  ByteBuilder builder(&account);
  ASSERT_TRUE(builder.reserve_more(1000));
  EXPECT_GE(builder.capacity(), 1000u);
  EXPECT_EQ(account.used(), SharedBytes::header_bytes() + builder.capacity());
  builder.append(std::string(1000, 'x'));
  EXPECT_EQ(builder.size(), 1000u);
  EXPECT_EQ(builder.view(), std::string(1000, 'x'));
  builder.clear();
  EXPECT_EQ(account.used(), 0u);
}

TEST(ByteBuilder, RefusesGrowthTheAccountCannotPayFor) {
  MemoryAccount account(4096);
  ByteBuilder builder(&account);
  ASSERT_TRUE(builder.reserve_more(100));
  builder.append("hello");
  EXPECT_FALSE(builder.reserve_more(8192));
  EXPECT_EQ(builder.view(), "hello");  // unchanged
  EXPECT_LE(account.used(), 4096u);
}

TEST(ByteBuilder, GrowthDoublesButStaysUnderTheCapacityLimit) {
  ByteBuilder builder;
  ASSERT_TRUE(builder.reserve_more(300, 1000));
  const std::size_t first = builder.capacity();
  builder.commit(first);
  ASSERT_TRUE(builder.reserve_more(1, 1000));
  EXPECT_LE(builder.capacity(), 1000u);
  EXPECT_GT(builder.capacity(), first);
  builder.commit(builder.capacity() - builder.size());
  ASSERT_TRUE(builder.reserve_more(300, 1000));  // doubling would pass the limit: stops at it
  EXPECT_EQ(builder.capacity(), 1000u);
  builder.commit(builder.capacity() - builder.size());
  ASSERT_TRUE(builder.reserve_more(10, 1000));  // past the limit only by what is needed
  EXPECT_EQ(builder.capacity(), 1010u);
}

TEST(SharedBytes, FreezeKeepsTheBytesAndTrimsTheCharge) {
  MemoryAccount account(1 << 20);
  ByteBuilder builder(&account);
  ASSERT_TRUE(builder.reserve_more(10000));
  builder.append("abc");
  SharedBytes bytes = std::move(builder).freeze();
  ASSERT_TRUE(bytes);
  EXPECT_EQ(bytes.view(), "abc");
  EXPECT_EQ(bytes.charged_bytes(), SharedBytes::header_bytes() + 3);
  EXPECT_EQ(account.used(), bytes.charged_bytes());
  EXPECT_EQ(builder.size(), 0u);
  bytes = SharedBytes();
  EXPECT_EQ(account.used(), 0u);
}

TEST(SharedBytes, AnEmptyBuilderFreezesToAnEmptyValue) {
  SharedBytes bytes = ByteBuilder().freeze();
  ASSERT_TRUE(bytes);
  EXPECT_EQ(bytes.size(), 0u);
  EXPECT_TRUE(bytes.view().empty());
}

TEST(SharedBytes, TheLastReferenceReleasesTheCharge) {
  MemoryAccount account(1 << 20);
  SharedBytes first = SharedBytes::copy_of("value", &account);
  ASSERT_TRUE(first);
  const std::size_t charged = account.used();
  EXPECT_GT(charged, 0u);
  SharedBytes second = first;
  EXPECT_EQ(first.use_count(), 2u);
  EXPECT_EQ(first.sole_owner_charge(), nullptr);
  first = SharedBytes();
  EXPECT_EQ(account.used(), charged);  // a reader still holds it
  EXPECT_NE(second.sole_owner_charge(), nullptr);
  second = SharedBytes();
  EXPECT_EQ(account.used(), 0u);
}

TEST(SharedBytes, CopyOfFailsCleanlyOverBudget) {
  MemoryAccount account(16);
  EXPECT_FALSE(SharedBytes::copy_of("more than sixteen bytes", &account));
  EXPECT_EQ(account.used(), 0u);
}

TEST(SharedBytes, ChargeMovesBetweenAccountsForTheSoleOwner) {
  MemoryAccount bodies(1 << 20);
  MemoryAccount store(1 << 20);
  SharedBytes bytes = SharedBytes::copy_of("payload", &bodies);
  MemoryReservation* charge = bytes.sole_owner_charge();
  ASSERT_NE(charge, nullptr);
  ASSERT_TRUE(charge->move_to(store));
  EXPECT_EQ(bodies.used(), 0u);
  EXPECT_EQ(store.used(), bytes.charged_bytes());
  bytes = SharedBytes();
  EXPECT_EQ(store.used(), 0u);
}

TEST(MemoryReservation, AdoptTakesOverBytesAlreadyReserved) {
  MemoryAccount account(100);
  ASSERT_TRUE(account.try_reserve(70));  // one step for two holders: 30 for the adopted part, 40 kept raw
  {
    MemoryReservation part = MemoryReservation::adopt(account, 30);
    EXPECT_EQ(part.bytes(), 30u);
    EXPECT_EQ(part.account(), &account);
    EXPECT_EQ(account.used(), 70u);  // adopting reserves nothing more
    ASSERT_TRUE(part.resize(50));
    EXPECT_EQ(account.used(), 90u);
  }
  EXPECT_EQ(account.used(), 40u);  // the adopted part went with its holder
  account.release(40);
  EXPECT_EQ(account.used(), 0u);
}

TEST(SharedBytes, AChargeCanBeHandedToAnotherValueOfItsSoleOwner) {
  // What the store does when a value replaces one nobody else holds: the new value takes over the old
  // value's reservation, resized to its own size in one step.
  MemoryAccount bodies(1 << 20);
  MemoryAccount store(1 << 20);
  SharedBytes old_value = SharedBytes::copy_of(std::string(100, 'o'), &store);
  SharedBytes new_value = SharedBytes::copy_of(std::string(40, 'n'), &bodies);
  MemoryReservation* old_charge = old_value.sole_owner_charge();
  MemoryReservation* new_charge = new_value.sole_owner_charge();
  ASSERT_NE(old_charge, nullptr);
  ASSERT_NE(new_charge, nullptr);
  const std::size_t new_bytes = new_charge->bytes();
  ASSERT_TRUE(old_charge->resize(new_bytes));
  *new_charge = std::move(*old_charge);
  EXPECT_EQ(bodies.used(), 0u);
  EXPECT_EQ(store.used(), new_bytes);
  EXPECT_EQ(new_value.charged_bytes(), new_bytes);
  EXPECT_EQ(old_value.charged_bytes(), 0u);
  old_value = SharedBytes();
  EXPECT_EQ(store.used(), new_bytes);
  new_value = SharedBytes();
  EXPECT_EQ(store.used(), 0u);
}

TEST(SharedBytes, ConcurrentCopiesAndDropsFreeExactlyOnce) {
  MemoryAccount account(1 << 20);
  SharedBytes shared = SharedBytes::copy_of(std::string(4096, 'z'), &account);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([shared] {
      for (int i = 0; i < 10000; ++i) {
        SharedBytes copy = shared;
        EXPECT_EQ(copy.view()[4095], 'z');
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(shared.use_count(), 1u);
  shared = SharedBytes();
  EXPECT_EQ(account.used(), 0u);
}

}  // namespace
}  // namespace base
