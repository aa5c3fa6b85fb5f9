// EntryTable: finds what was inserted and nothing else, through resizes, erases (backward shift),
// relocations and long runs of one home; its capacity rules and its arrays' charges.
#include "store/entry_table.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "store/entry.h"
#include "store/slab.h"
#include "store_test_support.h"

namespace store {
namespace {

// Entries written into 8-aligned blocks of their own, as the slab's slots are.
class Entries {
 public:
  char* make(const std::string& id) {
    const EntryShape shape = EntryShape::of(id.size(), entry::kNoType, 0, 1);
    blocks_.push_back(std::make_unique<std::uint64_t[]>((shape.bytes() + 7) / 8));
    char* slot = reinterpret_cast<char*>(blocks_.back().get());
    write_entry(slot, shape, id, {}, "v", {}, ObjectMeta{});
    return slot;
  }

 private:
  std::vector<std::unique_ptr<std::uint64_t[]>> blocks_;
};

std::uint64_t key_hash(const std::string& id) { return base::siphash13(kTestKey, id); }

// Inserts as the store does: growing first when the table asks for it.
void insert(EntryTable& table, std::uint64_t hash, char* entry) {
  const std::uint32_t target = EntryTable::target_capacity(table.size() + std::size_t{1}, table.capacity());
  if (target > table.capacity()) {
    SlotArray fresh = SlotArray::allocate(target);
    ASSERT_TRUE(fresh);
    ASSERT_TRUE(table.rebuild_into(fresh, kTestKey));
    SlotArray old = table.adopt(std::move(fresh));
    EXPECT_EQ(table.capacity(), target);
  }
  ASSERT_TRUE(table.can_insert(hash));
  table.insert(hash, entry);
}

TEST(EntryTable, FindsEveryInsertedIdThroughGrowthAndErases) {
  EntryTable table;
  Entries entries;
  std::vector<std::string> ids;
  for (int i = 0; i < 5000; ++i) ids.push_back("id-" + std::to_string(i));
  std::vector<char*> placed;
  for (const std::string& id : ids) {
    placed.push_back(entries.make(id));
    insert(table, key_hash(id), placed.back());
  }
  EXPECT_EQ(table.size(), ids.size());
  EXPECT_LE(table.size(), table.capacity() * 9 / 10 + 1);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const std::uint32_t index = table.find(key_hash(ids[i]), ids[i]);
    ASSERT_NE(index, EntryTable::kNotFound) << ids[i];
    EXPECT_EQ(table.entry_at(index), placed[i]);
  }
  EXPECT_EQ(table.find(key_hash("absent"), "absent"), EntryTable::kNotFound);

  std::mt19937 random(3);
  std::set<std::size_t> erased;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (random() % 2 == 0) continue;
    table.erase_at(table.find(key_hash(ids[i]), ids[i]));
    erased.insert(i);
  }
  EXPECT_EQ(table.size(), ids.size() - erased.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const bool present = table.find(key_hash(ids[i]), ids[i]) != EntryTable::kNotFound;
    EXPECT_EQ(present, erased.count(i) == 0) << ids[i];
  }
  std::size_t visited = 0;
  table.for_each([&](char*) { ++visited; });
  EXPECT_EQ(visited, table.size());
}

TEST(EntryTable, ShrinksIntoTheEmbeddedArray) {
  EntryTable table;
  Entries entries;
  std::vector<std::string> ids;
  for (int i = 0; i < 200; ++i) {
    ids.push_back("s" + std::to_string(i));
    insert(table, key_hash(ids.back()), entries.make(ids.back()));
  }
  ASSERT_GT(table.capacity(), EntryTable::kMinCapacity);
  EXPECT_GT(table.charge(), 0u);
  while (table.size() > 2) {
    const std::string id = ids.back();
    ids.pop_back();
    table.erase_at(table.find(key_hash(id), id));
    const std::uint32_t target = EntryTable::target_capacity(table.size(), table.capacity());
    if (target != 0 && target < table.capacity()) {
      SlotArray fresh = SlotArray::allocate(target);
      ASSERT_TRUE(table.rebuild_into(fresh, kTestKey));
      SlotArray old = table.adopt(std::move(fresh));
    }
  }
  EXPECT_EQ(table.capacity(), EntryTable::kMinCapacity);
  EXPECT_EQ(table.charge(), 0u) << "the embedded array is the store's fixed cost";
  for (const std::string& id : ids) EXPECT_NE(table.find(key_hash(id), id), EntryTable::kNotFound);
}

TEST(EntryTable, OneHomeHoldsAtMostTheDistanceLimitAndErasesShiftBack) {
  // Every id with the same hash: one home, one tag, a single run. Ids still tell the entries apart.
  EntryTable table;
  SlotArray big = SlotArray::allocate(1024);
  ASSERT_TRUE(table.rebuild_into(big, kTestKey));
  SlotArray none = table.adopt(std::move(big));
  Entries entries;
  constexpr std::uint64_t kHash = 0x1234567890abcdefULL;
  std::vector<std::string> ids;
  for (std::uint32_t i = 0; i <= EntryTable::kMaxDistance; ++i) {
    ids.push_back("same-" + std::to_string(i));
    ASSERT_TRUE(table.can_insert(kHash)) << i;
    table.insert(kHash, entries.make(ids.back()));
  }
  EXPECT_FALSE(table.can_insert(kHash)) << "a 257th entry would sit 256 slots from home";
  EXPECT_TRUE(table.can_insert(kHash ^ 0x80000000u)) << "another home is free";
  for (const std::string& id : ids) ASSERT_NE(table.find(kHash, id), EntryTable::kNotFound) << id;
  // Erasing from the middle shifts the rest back: everything stays reachable, and there is room again.
  table.erase_at(table.find(kHash, ids[100]));
  for (std::size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(table.find(kHash, ids[i]) != EntryTable::kNotFound, i != 100) << ids[i];
  }
  EXPECT_TRUE(table.can_insert(kHash));
}

TEST(EntryTable, RepointAndSetEntryFollowARelocatedEntry) {
  EntryTable table;
  Entries entries;
  const std::string id = "moving";
  char* first = entries.make(id);
  insert(table, key_hash(id), first);
  insert(table, key_hash("other"), entries.make("other"));
  char* second = entries.make(id);
  table.repoint(key_hash(id), first, second);
  EXPECT_EQ(table.entry_at(table.find(key_hash(id), id)), second);
  char* third = entries.make(id);
  table.set_entry(table.find(key_hash(id), id), third);
  EXPECT_EQ(table.entry_at(table.find(key_hash(id), id)), third);
  EXPECT_NE(table.find(key_hash("other"), "other"), EntryTable::kNotFound);
}

TEST(EntryTable, CapacityRules) {
  EXPECT_EQ(EntryTable::target_capacity(14, 16), 0u);   // 87.5%
  EXPECT_EQ(EntryTable::target_capacity(15, 16), 24u);  // past 90%: half as much again
  EXPECT_EQ(EntryTable::target_capacity(900, 1000), 0u);
  EXPECT_EQ(EntryTable::target_capacity(901, 1000), 1500u);
  EXPECT_EQ(EntryTable::target_capacity(300, 1000), 0u);
  EXPECT_EQ(EntryTable::target_capacity(299, 1000), 499u);  // below 30%: to 60%
  EXPECT_EQ(EntryTable::target_capacity(1, 24), EntryTable::kMinCapacity);
  EXPECT_EQ(EntryTable::target_capacity(0, EntryTable::kMinCapacity), 0u) << "never below the minimum";
  EXPECT_EQ(EntryTable::max_size(16), 15u);
  EXPECT_EQ(EntryTable::max_size(1000), 968u);  // about 97%, and one slot always empty
}

TEST(EntryTable, ArraysAreChargedAsAllocated) {
  EXPECT_EQ(SlotArray::charge(EntryTable::kMinCapacity), 0u);
  EXPECT_EQ(SlotArray::charge(24), heap_chunk_bytes(24 * 8));
  EXPECT_EQ(SlotArray::charge(8191), heap_chunk_bytes(8191 * 8));  // just below 64 KiB: malloc'd
  EXPECT_EQ(SlotArray::charge(8192), 64u * 1024);                  // mmap'd, whole pages
  EXPECT_EQ(SlotArray::charge(10000), 20u * 4096);
  SlotArray mapped = SlotArray::allocate(10000);
  ASSERT_TRUE(mapped);
  EXPECT_EQ(mapped.capacity(), 10000u);
  EXPECT_FALSE(SlotArray::allocate(3)) << "below the minimum is no array";
}

}  // namespace
}  // namespace store
