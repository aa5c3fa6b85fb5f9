// EntryTable on its own: lookups by hash and id, replacement and removal through the returned link, and a
// bucket array that grows and shrinks with the entries.
#include "store/entry_table.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace store {
namespace {

EntryPtr entry(std::uint64_t hash, const std::string& id, std::string_view value = "v") {
  return make_entry(hash, id, base::SharedBytes::copy_of(value));
}

TEST(EntryTable, AnEntryKeepsItsIdHashAndValue) {
  const EntryPtr e = entry(42, std::string("id\0x", 4), "value");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->id(), std::string_view("id\0x", 4));
  EXPECT_EQ(e->hash, 42u);
  EXPECT_EQ(e->value.view(), "value");
  EXPECT_EQ(e->next, nullptr);
}

TEST(EntryTable, FindsByHashAndIdEvenWhenHashesCollide) {
  EntryTable table;
  // Same hash, different ids: one chain, told apart by the id.
  table.insert(entry(7, "a", "1"), BucketArray());
  table.insert(entry(7, "b", "2"), BucketArray());
  table.insert(entry(7 + EntryTable::kMinBuckets, "c", "3"), BucketArray());  // same chain, other hash
  EXPECT_EQ(table.size(), 3u);
  ASSERT_NE(table.find(7, "a"), nullptr);
  EXPECT_EQ((*table.find(7, "a"))->value.view(), "1");
  EXPECT_EQ((*table.find(7, "b"))->value.view(), "2");
  EXPECT_EQ((*table.find(7 + EntryTable::kMinBuckets, "c"))->value.view(), "3");
  EXPECT_EQ(table.find(7, "c"), nullptr) << "an id under another hash is not a match";
  EXPECT_EQ(table.find(8, "a"), nullptr);
}

TEST(EntryTable, ReplaceAndRemoveWorkThroughTheLink) {
  EntryTable table;
  table.insert(entry(1, "a", "old"), BucketArray());
  table.insert(entry(1, "b", "other"), BucketArray());
  const EntryPtr old = table.replace(table.find(1, "a"), entry(1, "a", "new"));
  EXPECT_EQ(old->value.view(), "old");
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ((*table.find(1, "a"))->value.view(), "new");
  EXPECT_EQ((*table.find(1, "b"))->value.view(), "other");

  BucketArray retired;
  const EntryPtr removed = table.remove(table.find(1, "a"), BucketArray(), retired);
  EXPECT_EQ(removed->value.view(), "new");
  EXPECT_EQ(table.find(1, "a"), nullptr);
  EXPECT_EQ((*table.find(1, "b"))->value.view(), "other");
  EXPECT_EQ(table.size(), 1u);
}

TEST(EntryTable, ResizeTargets) {
  constexpr std::size_t kMin = EntryTable::kMinBuckets;
  EXPECT_EQ(EntryTable::resize_target(kMin, kMin), 0u);
  EXPECT_EQ(EntryTable::resize_target(kMin + 1, kMin), 2 * kMin);
  EXPECT_EQ(EntryTable::resize_target(0, kMin), 0u) << "never below the minimum";
  EXPECT_EQ(EntryTable::resize_target(15, 64), 32u);
  EXPECT_EQ(EntryTable::resize_target(16, 64), 0u);
  EXPECT_EQ(EntryTable::resize_target(64, 64), 0u);
}

TEST(EntryTable, GrowsAndShrinksWithTheEntriesAndKeepsThemAll) {
  EntryTable table;
  constexpr std::uint64_t kCount = 1000;
  std::vector<BucketArray> retired;
  for (std::uint64_t i = 0; i < kCount; ++i) {
    // Spread the hashes over the low bits, as SipHash does.
    const std::uint64_t hash = i * 0x9e3779b97f4a7c15ULL;
    BucketArray spare = table.prepare_resize(+1);
    if (spare) {
      EXPECT_EQ(spare.count(), EntryTable::resize_target(table.size() + 1, table.bucket_count()));
    }
    retired.push_back(table.insert(entry(hash, std::to_string(i)), std::move(spare)));
    EXPECT_GE(table.bucket_count(), table.size()) << "at most one entry a bucket on average";
  }
  EXPECT_EQ(table.size(), kCount);
  EXPECT_EQ(table.bucket_count(), 1024u);
  for (std::uint64_t i = 0; i < kCount; ++i) {
    ASSERT_NE(table.find(i * 0x9e3779b97f4a7c15ULL, std::to_string(i)), nullptr) << i;
  }
  for (std::uint64_t i = 0; i < kCount; ++i) {
    BucketArray old;
    const EntryPtr removed = table.remove(table.find(i * 0x9e3779b97f4a7c15ULL, std::to_string(i)),
                                          table.prepare_resize(-1), old);
    ASSERT_TRUE(removed);
    EXPECT_EQ(removed->id(), std::to_string(i));
    // At least a quarter of the buckets in use beyond the minimum: the bound kEntryOverheadBytes assumes.
    if (table.bucket_count() > EntryTable::kMinBuckets) {
      EXPECT_GE(table.size() * 4, table.bucket_count());
    }
    for (std::uint64_t j = i + 1; j < kCount && j < i + 4; ++j) {
      ASSERT_NE(table.find(j * 0x9e3779b97f4a7c15ULL, std::to_string(j)), nullptr) << j;
    }
  }
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.bucket_count(), EntryTable::kMinBuckets);
}

}  // namespace
}  // namespace store
