// BucketStore's operations and its cap: what is charged for an entry, what a replacement needs, and that a
// value a reader still holds stays charged.
#include "store/bucket_store.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <limits>
#include <string>
#include <string_view>

namespace store {
namespace {

using namespace std::string_literals;
using Result = BucketStore::PutResult;

constexpr base::HashKey kKey{0x0123456789abcdefULL, 0xfedcba9876543210ULL};

std::size_t cost(std::string_view id, std::size_t value_size) { return BucketStore::entry_cost(id.size(), value_size); }
std::size_t value_charge(std::size_t value_size) { return base::SharedBytes::header_bytes() + value_size; }

TEST(BucketStore, EntryCostIsIdOverheadAndValueCharge) {
  EXPECT_EQ(BucketStore::entry_cost(10, 20), 10 + BucketStore::kEntryOverheadBytes + value_charge(20));
  EXPECT_EQ(BucketStore::entry_cost(0, 0), BucketStore::kEntryOverheadBytes + value_charge(0));
  constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
  EXPECT_EQ(BucketStore::entry_cost(1, kMax), kMax);
  EXPECT_EQ(BucketStore::entry_cost(kMax, 1), kMax);
}

TEST(BucketStore, PutCreatesThenReplaces) {
  BucketStore store(4096, kKey);
  EXPECT_EQ(store.put("a", "hello"), Result::kCreated);
  EXPECT_EQ(store.bucket_count(), 1u);
  EXPECT_EQ(store.stored_bytes(), cost("a", 5));

  EXPECT_EQ(store.put("a", "hi"), Result::kReplaced);
  EXPECT_EQ(store.bucket_count(), 1u);
  EXPECT_EQ(store.stored_bytes(), cost("a", 2));

  const base::SharedBytes value = store.get("a");
  ASSERT_TRUE(value);
  EXPECT_EQ(value.view(), "hi");
}

TEST(BucketStore, GetOfAbsentIdIsNull) {
  BucketStore store(4096, kKey);
  EXPECT_FALSE(store.get("missing"));
  EXPECT_EQ(store.put("present", "x"), Result::kCreated);
  EXPECT_FALSE(store.get("missing"));
  EXPECT_FALSE(store.get("presen"));
  EXPECT_TRUE(store.get("present"));
}

TEST(BucketStore, EraseRemovesAndReportsAbsence) {
  BucketStore store(4096, kKey);
  store.put("a", "12345");
  store.put("b", "678");
  EXPECT_TRUE(store.erase("a"));
  EXPECT_FALSE(store.get("a"));
  EXPECT_EQ(store.bucket_count(), 1u);
  EXPECT_EQ(store.stored_bytes(), cost("b", 3));
  EXPECT_FALSE(store.erase("a"));
  EXPECT_FALSE(store.erase("never"));
  EXPECT_EQ(store.bucket_count(), 1u);
  EXPECT_EQ(store.stored_bytes(), cost("b", 3));
  EXPECT_EQ(store.get("b").view(), "678");
  EXPECT_TRUE(store.erase("b"));
  EXPECT_EQ(store.stored_bytes(), 0u);
}

TEST(BucketStore, KeepsBinaryValuesAndIdsExactly) {
  BucketStore store(4096, kKey);
  const std::string value = "a\0b\xff\x00\r\n"s;
  const std::string id = "id\0with nul"s;
  EXPECT_EQ(store.put(id, value), Result::kCreated);
  EXPECT_EQ(store.stored_bytes(), cost(id, value.size()));
  EXPECT_EQ(store.get(id).view(), value);
  // The id is compared in full, not as a C string.
  EXPECT_FALSE(store.get("id"));
  EXPECT_EQ(store.put("", "empty id"), Result::kCreated);
  EXPECT_EQ(store.get("").view(), "empty id");
}

TEST(BucketStore, AnEmptyValueStillCostsItsIdAndEntry) {
  BucketStore store(4096, kKey);
  EXPECT_EQ(store.put("empty", ""), Result::kCreated);
  EXPECT_EQ(store.bucket_count(), 1u);
  EXPECT_EQ(store.stored_bytes(), cost("empty", 0));
  EXPECT_GT(store.stored_bytes(), std::string_view("empty").size() + BucketStore::kEntryOverheadBytes);
  {
    const base::SharedBytes value = store.get("empty");
    ASSERT_TRUE(value);
    EXPECT_TRUE(value.view().empty());
  }
  EXPECT_EQ(store.put("empty", ""), Result::kReplaced);
  EXPECT_TRUE(store.erase("empty"));
  EXPECT_EQ(store.bucket_count(), 0u);
  EXPECT_EQ(store.stored_bytes(), 0u);
}

TEST(BucketStore, AnEmptyValueIsRefusedByAFullStore) {
  BucketStore store(cost("full", 4), kKey);
  EXPECT_EQ(store.put("full", "1234"), Result::kCreated);
  EXPECT_EQ(store.put("empty", ""), Result::kCapacityExceeded);
  EXPECT_EQ(store.bucket_count(), 1u);
}

TEST(BucketStore, AByteBuilderIsStoredWithoutACopyAndItsChargeMoves) {
  base::MemoryAccount bodies(1 << 20);
  BucketStore store(1 << 20, kKey);
  base::ByteBuilder body(&bodies);
  ASSERT_TRUE(body.reserve_more(300, 300));
  body.append(std::string(300, 'b'));
  const char* bytes = body.view().data();
  EXPECT_GT(bodies.used(), 0u);

  EXPECT_EQ(store.put("id", std::move(body)), Result::kCreated);
  EXPECT_TRUE(body.empty());
  EXPECT_EQ(bodies.used(), 0u);  // the charge left the in-flight budget ...
  const base::SharedBytes value = store.get("id");
  ASSERT_TRUE(value);
  EXPECT_EQ(value.data(), bytes);  // ... with the very bytes received
  EXPECT_EQ(value.view(), std::string(300, 'b'));
  EXPECT_EQ(store.stored_bytes(), cost("id", 300));
}

TEST(BucketStore, ARefusedByteBuilderIsFreedAndChangesNothing) {
  base::MemoryAccount bodies(1 << 20);
  BucketStore store(cost("a", 10) + 100, kKey);
  ASSERT_EQ(store.put("a", std::string(10, 'a')), Result::kCreated);
  base::ByteBuilder body(&bodies);
  ASSERT_TRUE(body.reserve_more(200, 200));
  body.append(std::string(200, 'x'));
  EXPECT_EQ(store.put("b", std::move(body)), Result::kCapacityExceeded);
  EXPECT_EQ(bodies.used(), 0u);
  EXPECT_FALSE(store.get("b"));
  EXPECT_EQ(store.stored_bytes(), cost("a", 10));
}

TEST(BucketStore, CapacityExactlyReachedIsAllowed) {
  BucketStore store(cost("a", 4) + cost("b", 6), kKey);
  EXPECT_EQ(store.put("a", std::string(4, 'a')), Result::kCreated);
  EXPECT_EQ(store.put("b", std::string(6, 'b')), Result::kCreated);
  EXPECT_EQ(store.stored_bytes(), store.max_bytes());
}

TEST(BucketStore, OneByteOverCapacityIsRefusedAndChangesNothing) {
  BucketStore store(cost("a", 4) + cost("b", 6), kKey);
  store.put("a", std::string(4, 'a'));
  EXPECT_EQ(store.put("b", std::string(7, 'b')), Result::kCapacityExceeded);
  EXPECT_FALSE(store.get("b"));
  EXPECT_EQ(store.bucket_count(), 1u);
  EXPECT_EQ(store.stored_bytes(), cost("a", 4));
  // A longer id costs as much as a longer value.
  EXPECT_EQ(store.put("bb", std::string(6, 'b')), Result::kCapacityExceeded);
  EXPECT_EQ(store.put("b", std::string(6, 'b')), Result::kCreated);
}

TEST(BucketStore, ReplacingAnUnheldValueNeedsOnlyTheDifference) {
  BucketStore store(cost("a", 3) + cost("b", 5) + 2, kKey);
  store.put("a", "old");
  store.put("b", "12345");
  EXPECT_EQ(store.put("a", std::string(6, 'n')), Result::kCapacityExceeded);
  EXPECT_EQ(store.get("a").view(), "old");
  EXPECT_EQ(store.stored_bytes(), cost("a", 3) + cost("b", 5));
  // Growing "a" by two bytes reaches the cap exactly: far less than the whole new value's charge is free.
  EXPECT_EQ(store.put("a", std::string(5, 'n')), Result::kReplaced);
  EXPECT_EQ(store.stored_bytes(), store.max_bytes());
  EXPECT_EQ(store.get("a").view(), "nnnnn");
}

TEST(BucketStore, ReplacingAHeldValueNeedsRoomForTheWholeNewValue) {
  BucketStore store(cost("a", 100) + 50, kKey);
  ASSERT_EQ(store.put("a", std::string(100, 'o')), Result::kCreated);
  base::SharedBytes held = store.get("a");  // a response still sending it
  EXPECT_EQ(store.put("a", std::string(100, 'n')), Result::kCapacityExceeded);
  EXPECT_EQ(store.get("a").view(), std::string(100, 'o'));
  EXPECT_FALSE(store.would_fit("a", 100));

  // A new value whose whole charge fits the free room is accepted next to the held one.
  EXPECT_EQ(store.put("a", std::string(10, 'n')), Result::kReplaced);
  EXPECT_EQ(store.stored_bytes(), cost("a", 10) + value_charge(100));
  EXPECT_EQ(held.view(), std::string(100, 'o'));
  held = base::SharedBytes();
  EXPECT_EQ(store.stored_bytes(), cost("a", 10));

  // Unheld, the same replacement as the refused one fits: only the difference counts.
  EXPECT_TRUE(store.would_fit("a", 100));
  EXPECT_EQ(store.put("a", std::string(100, 'n')), Result::kReplaced);
  EXPECT_EQ(store.stored_bytes(), cost("a", 100));
}

TEST(BucketStore, AHeldValueStaysChargedAfterEraseAndReplace) {
  BucketStore store(1 << 20, kKey);
  store.put("a", "first");
  base::SharedBytes first = store.get("a");
  store.put("a", "second!");
  EXPECT_EQ(first.view(), "first");
  EXPECT_EQ(store.stored_bytes(), cost("a", 7) + value_charge(5));
  base::SharedBytes second = store.get("a");
  EXPECT_TRUE(store.erase("a"));
  EXPECT_FALSE(store.get("a"));
  EXPECT_EQ(store.bucket_count(), 0u);
  EXPECT_EQ(store.stored_bytes(), value_charge(5) + value_charge(7));
  EXPECT_EQ(second.view(), "second!");
  EXPECT_EQ(second.use_count(), 1u);
  first = base::SharedBytes();
  EXPECT_EQ(store.stored_bytes(), value_charge(7));
  second = base::SharedBytes();
  EXPECT_EQ(store.stored_bytes(), 0u);
}

TEST(BucketStore, SmallerReplacementFreesBytes) {
  BucketStore store(cost("a", 10), kKey);
  store.put("a", std::string(10, 'a'));
  EXPECT_EQ(store.put("b", ""), Result::kCapacityExceeded);
  EXPECT_EQ(store.put("a", ""), Result::kReplaced);
  EXPECT_EQ(store.stored_bytes(), cost("a", 0));
  EXPECT_EQ(store.put("a", std::string(10, 'a')), Result::kReplaced);
  EXPECT_EQ(store.stored_bytes(), store.max_bytes());
}

TEST(BucketStore, WouldFitCountsTheEntryForNewIdsAndTheDifferenceForUnheldOnes) {
  BucketStore store(cost("a", 10), kKey);
  EXPECT_TRUE(store.would_fit("a", 0));
  EXPECT_TRUE(store.would_fit("a", 10));
  EXPECT_FALSE(store.would_fit("a", 11));
  EXPECT_FALSE(store.would_fit("aa", 10));  // the id is part of the cost
  EXPECT_FALSE(store.would_fit("a", std::numeric_limits<std::size_t>::max()));

  store.put("a", std::string(4, 'a'));
  EXPECT_FALSE(store.would_fit("b", 0));  // no room for another entry
  EXPECT_TRUE(store.would_fit("a", 10));  // an overwrite up to the cap
  EXPECT_FALSE(store.would_fit("a", 11));
  const base::SharedBytes held = store.get("a");
  EXPECT_FALSE(store.would_fit("a", 10)) << "a held value is not freed by the overwrite";
  EXPECT_FALSE(store.would_fit("a", 0)) << "even an empty value needs its header next to the held one";
}

TEST(BucketStore, WouldFitDoesNotOverflowNearTheLimit) {
  constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
  BucketStore store(kMax, kKey);
  store.put("a", "abc");
  const std::size_t available = kMax - cost("a", 3);
  const std::size_t largest = available - cost("b", 0);
  EXPECT_TRUE(store.would_fit("b", largest));
  EXPECT_FALSE(store.would_fit("b", largest + 1));
  EXPECT_FALSE(store.would_fit("b", kMax));
  EXPECT_FALSE(store.would_fit("a", kMax));
}

TEST(BucketStore, AnyShardCountWorks) {
  for (const std::size_t shards : {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{1} << 40}) {
    SCOPED_TRACE(shards);
    BucketStore store(1 << 20, kKey, shards);
    EXPECT_GE(store.shard_count(), 1u);
    for (int i = 0; i < 200; ++i) EXPECT_EQ(store.put("id" + std::to_string(i), "v"), Result::kCreated);
    EXPECT_EQ(store.bucket_count(), 200u);
    for (int i = 0; i < 200; ++i) {
      EXPECT_LT(store.shard_index("id" + std::to_string(i)), store.shard_count());
      EXPECT_EQ(store.get("id" + std::to_string(i)).view(), "v");
    }
    for (int i = 0; i < 200; ++i) EXPECT_TRUE(store.erase("id" + std::to_string(i)));
    EXPECT_EQ(store.stored_bytes(), 0u);
  }
}

}  // namespace
}  // namespace store
