#include "base/memory_account.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace base {
namespace {

TEST(MemoryAccount, NeverPassesItsLimit) {
  MemoryAccount account(100);
  EXPECT_TRUE(account.try_reserve(60));
  EXPECT_FALSE(account.try_reserve(41));
  EXPECT_EQ(account.used(), 60u);
  EXPECT_EQ(account.refusals(), 1u);
  EXPECT_TRUE(account.try_reserve(40));
  EXPECT_EQ(account.available(), 0u);
  account.release(100);
  EXPECT_EQ(account.used(), 0u);
  EXPECT_FALSE(account.try_reserve(SIZE_MAX));
}

TEST(MemoryAccount, ConcurrentReservationsStayUnderTheLimit) {
  MemoryAccount account(1000);
  std::vector<std::thread> threads;
  std::atomic<int> granted{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        if (account.try_reserve(7)) {
          granted.fetch_add(1);
          EXPECT_LE(account.used(), 1000u);
          account.release(7);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(account.used(), 0u);
  EXPECT_GT(granted.load(), 0);
}

TEST(MemoryReservation, ResizesAndReleasesOnDestruction) {
  MemoryAccount account(100);
  {
    MemoryReservation r(account);
    EXPECT_TRUE(r.resize(30));
    EXPECT_FALSE(r.resize(101));
    EXPECT_EQ(r.bytes(), 30u);
    EXPECT_TRUE(r.resize(100));
    EXPECT_TRUE(r.resize(10));
    EXPECT_EQ(account.used(), 10u);
    MemoryReservation moved = std::move(r);
    EXPECT_EQ(r.bytes(), 0u);
    EXPECT_EQ(moved.bytes(), 10u);
    EXPECT_EQ(account.used(), 10u);
  }
  EXPECT_EQ(account.used(), 0u);
}

TEST(MemoryReservation, DisownedBytesStayOnTheAccountForTheCallerToAdopt) {
  MemoryAccount account(100);
  MemoryReservation old(account);
  ASSERT_TRUE(old.resize(40));
  const std::size_t bytes = old.disown();
  EXPECT_EQ(bytes, 40u);
  EXPECT_EQ(old.bytes(), 0u);
  old.release();
  EXPECT_EQ(account.used(), 40u) << "disowned bytes are not released";
  {
    MemoryReservation adopted = MemoryReservation::adopt(account, bytes);
    EXPECT_EQ(account.used(), 40u);
  }
  EXPECT_EQ(account.used(), 0u);
}

TEST(MemoryReservation, MovesBetweenAccountsOnlyWhenTheOtherHasRoom) {
  MemoryAccount bodies(100);
  MemoryAccount store(50);
  MemoryReservation r(bodies);
  ASSERT_TRUE(r.resize(60));
  EXPECT_FALSE(r.move_to(store));
  EXPECT_EQ(bodies.used(), 60u);
  EXPECT_EQ(store.used(), 0u);
  ASSERT_TRUE(r.resize(40));
  EXPECT_TRUE(r.move_to(store));
  EXPECT_EQ(bodies.used(), 0u);
  EXPECT_EQ(store.used(), 40u);
  EXPECT_EQ(r.account(), &store);
}

TEST(MemoryReservation, WithoutAnAccountEverythingIsGranted) {
  MemoryReservation r;
  EXPECT_TRUE(r.resize(SIZE_MAX));
  EXPECT_EQ(r.bytes(), SIZE_MAX);
  MemoryAccount account(10);
  EXPECT_FALSE(r.move_to(account));
}

}  // namespace
}  // namespace base
