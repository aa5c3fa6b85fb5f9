// Slab: the size classes' spacing, the page sizes, and a class kept dense as a stack of pages.
#include "store/slab.h"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <vector>

#include "store/entry.h"

namespace store {
namespace {

TEST(SizeClasses, FitEverySizeWithLittleWaste) {
  std::set<std::size_t> seen;
  std::size_t previous = 0;
  for (std::size_t bytes = 1; bytes <= kMaxEntryBytes; ++bytes) {
    const std::size_t size_class = SizeClasses::of(bytes);
    ASSERT_LT(size_class, SizeClasses::kCount);
    const std::size_t slot = SizeClasses::bytes(size_class);
    ASSERT_GE(slot, bytes);
    ASSERT_EQ(slot % 8, 0u) << "slots stay 8-aligned";
    ASSERT_GE(size_class, previous) << "classes grow with the size";
    previous = size_class;
    if (bytes >= 24) {
      const std::size_t waste = slot - bytes;
      ASSERT_TRUE(bytes <= 256 ? waste < 8 : waste * 16 < slot) << bytes << " in " << slot;
    }
    seen.insert(size_class);
  }
  EXPECT_EQ(seen.size(), SizeClasses::kCount);
  EXPECT_EQ(SizeClasses::bytes(SizeClasses::of(136)), 136u);
  EXPECT_EQ(SizeClasses::bytes(SizeClasses::of(137)), 144u);
  EXPECT_EQ(SizeClasses::bytes(SizeClasses::of(257)), 272u);
  EXPECT_EQ(SizeClasses::bytes(SizeClasses::of(kMaxEntryBytes)), kMaxEntryBytes);
}

TEST(Slab, PagesStartSmallDoubleAndStayWithinAMallocPage) {
  for (std::size_t c = 0; c < SizeClasses::kCount; ++c) {
    const std::size_t slot = SizeClasses::bytes(c);
    EXPECT_LE(Slab::page_charge(c, Slab::max_capacity(c)), Slab::kPageChunkBytes) << slot;
    EXPECT_GE(Slab::max_capacity(c), 1u);
    // Nearly a whole 4 KiB chunk: the space left is less than one more slot.
    EXPECT_GT(Slab::page_charge(c, Slab::max_capacity(c)) + slot, Slab::kPageChunkBytes - 16) << slot;
    EXPECT_LE(Slab::first_capacity(c) * slot, slot > 256 ? slot : 256u);
    std::size_t capacity = Slab::first_capacity(c);
    while (capacity < Slab::max_capacity(c)) {
      const std::size_t next = Slab::next_capacity(c, capacity);
      EXPECT_TRUE(next == 2 * capacity || next == Slab::max_capacity(c));
      capacity = next;
    }
    EXPECT_EQ(Slab::next_capacity(c, capacity), capacity);
  }
  EXPECT_EQ(Slab::page_charge(SizeClasses::of(136), 29), heap_chunk_bytes(16 + 29 * 136));
}

TEST(Slab, AClassIsADenseStackOfPages) {
  Slab slab;
  const std::size_t c = SizeClasses::of(100);
  const std::size_t slot_bytes = SizeClasses::bytes(c);
  std::vector<char*> slots;
  std::vector<std::size_t> page_charges;
  std::size_t expected_charge = 0;
  for (int i = 0; i < 300; ++i) {
    const std::size_t needed = slab.page_needed(c);
    PagePtr spare = slab.prepare(c);
    EXPECT_EQ(static_cast<bool>(spare), needed != 0) << "prepare() predicts the page, outside the lock";
    ASSERT_TRUE(slab.reserve_slot(c, spare));
    EXPECT_FALSE(spare) << "the predicted page was taken";
    expected_charge += needed;
    char* slot = slab.push(c);
    std::memset(slot, i & 0xFF, slot_bytes);
    slots.push_back(slot);
    EXPECT_EQ(slab.last(c), slot);
    EXPECT_EQ(slab.charged_bytes(), expected_charge);
  }
  const std::size_t other = SizeClasses::of(500);
  EXPECT_EQ(slab.page_needed(other), Slab::page_charge(other, Slab::first_capacity(other))) << "no page yet";
  // Popping walks back through the slots in order; each emptied page is handed back.
  std::size_t emptied = 0;
  for (int i = 299; i >= 0; --i) {
    ASSERT_EQ(slab.last(c), slots[static_cast<std::size_t>(i)]);
    EXPECT_EQ(static_cast<unsigned char>(slab.last(c)[0]), i & 0xFF);
    const std::size_t freed = slab.page_freed_by_pop(c);
    PagePtr page;
    slab.pop(c, page);
    EXPECT_EQ(static_cast<bool>(page), freed != 0);
    emptied += page ? 1 : 0;
    expected_charge -= freed;
    EXPECT_EQ(slab.charged_bytes(), expected_charge);
  }
  EXPECT_EQ(slab.charged_bytes(), 0u);
  EXPECT_EQ(slab.page_count(), 0u);
  EXPECT_GT(emptied, 5u);
}

TEST(Slab, AMispredictedPageIsNotUsed) {
  Slab slab;
  const std::size_t a = SizeClasses::of(40);
  const std::size_t b = SizeClasses::of(400);
  PagePtr wrong = slab.prepare(b);
  ASSERT_TRUE(wrong);
  ASSERT_TRUE(slab.reserve_slot(a, wrong));
  EXPECT_TRUE(wrong) << "a page of another class stays with the caller, to be freed after the lock";
  EXPECT_EQ(slab.charged_bytes(), Slab::page_charge(a, Slab::first_capacity(a)));
  (void)slab.push(a);
  PagePtr emptied;
  slab.pop(a, emptied);
  EXPECT_TRUE(emptied);
}

}  // namespace
}  // namespace store
