// Interned content types: one code and one charged block per distinct type, counted references, codes
// reused once free, the bound and what happens beyond it, and the store's use of them.
#include "store/content_types.h"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "store/bucket_store.h"
#include "store_test_support.h"

namespace store {
namespace {

std::string numbered_type(std::size_t i) { return "application/x-type-" + std::to_string(i); }

TEST(ContentTypes, OneCodePerTypeWithCountedReferences) {
  base::MemoryAccount account(1 << 20);
  ContentTypes types(kTestKey, account);
  std::uint32_t a = 0;
  std::uint32_t again = 0;
  std::uint32_t b = 0;
  ASSERT_TRUE(types.acquire("text/plain", a));
  ASSERT_TRUE(types.acquire("text/plain", again));
  ASSERT_TRUE(types.acquire("text/html", b));
  EXPECT_EQ(a, again);
  EXPECT_NE(a, b);
  EXPECT_NE(a, entry::kNoType);
  EXPECT_EQ(types.view(a), "text/plain");
  EXPECT_EQ(types.view(b), "text/html");
  EXPECT_EQ(types.references(a), 2u);
  EXPECT_EQ(types.count(), 2u);
  EXPECT_EQ(account.used(), ContentTypes::charge(10) + ContentTypes::charge(9));

  types.release(a);
  EXPECT_EQ(types.references(a), 1u);
  EXPECT_EQ(types.view(a), "text/plain");
  types.release(a);
  EXPECT_EQ(types.references(a), 0u);
  EXPECT_EQ(types.count(), 1u);
  EXPECT_EQ(account.used(), ContentTypes::charge(9)) << "the last reference frees the block and its charge";

  // The freed code goes to the next new type.
  std::uint32_t c = 0;
  ASSERT_TRUE(types.acquire("image/png", c));
  EXPECT_EQ(c, a);
  EXPECT_EQ(types.view(c), "image/png");
  types.release(b);
  types.release(c);
  EXPECT_EQ(account.used(), 0u);
}

TEST(ContentTypes, EmptyAndInvalidTypes) {
  base::MemoryAccount account(1 << 20);
  ContentTypes types(kTestKey, account);
  std::uint32_t code = 99;
  ASSERT_TRUE(types.acquire("", code));
  EXPECT_EQ(code, entry::kNoType);
  types.release(code);
  EXPECT_FALSE(types.acquire(std::string(kMaxContentTypeBytes + 1, 't'), code));
  ASSERT_TRUE(types.acquire(std::string(kMaxContentTypeBytes, 't'), code));
  EXPECT_EQ(types.view(code).size(), kMaxContentTypeBytes);
  types.release(code);
  EXPECT_EQ(account.used(), 0u);
}

TEST(ContentTypes, ANewTypeNeedsRoomUnderTheCapAKnownOneDoesNot) {
  base::MemoryAccount account(ContentTypes::charge(10));
  ContentTypes types(kTestKey, account);
  std::uint32_t first = 0;
  ASSERT_TRUE(types.acquire("text/plain", first));
  std::uint32_t refused = 0;
  EXPECT_FALSE(types.acquire("text/html", refused));
  EXPECT_EQ(types.count(), 1u);
  std::uint32_t again = 0;
  ASSERT_TRUE(types.acquire("text/plain", again)) << "another reference costs nothing";
  types.release(first);
  types.release(again);
  EXPECT_EQ(account.used(), 0u);
}

TEST(ContentTypes, BeyondTheBoundTypesAreKeptInline) {
  base::MemoryAccount account(1 << 24);
  ContentTypes types(kTestKey, account);
  std::vector<std::uint32_t> codes;
  for (std::size_t i = 0; i < ContentTypes::kCapacity; ++i) {
    std::uint32_t code = 0;
    ASSERT_TRUE(types.acquire(numbered_type(i), code));
    ASSERT_NE(code, entry::kInlineType);
    codes.push_back(code);
  }
  EXPECT_EQ(types.count(), ContentTypes::kCapacity);
  std::uint32_t code = 0;
  ASSERT_TRUE(types.acquire("one/too-many", code));
  EXPECT_EQ(code, entry::kInlineType);
  const std::size_t charged = account.used();
  types.release(code);  // holds nothing
  EXPECT_EQ(account.used(), charged);
  ASSERT_TRUE(types.acquire(numbered_type(5), code));
  EXPECT_EQ(code, codes[5]) << "a known type still gets its code";
  types.release(code);
  types.release(codes[7]);
  ASSERT_TRUE(types.acquire("one/too-many", code));
  EXPECT_EQ(code, codes[7]) << "a freed code is taken by the next new type";
  types.release(code);
  for (std::size_t i = 0; i < codes.size(); ++i) {
    if (i != 7) types.release(codes[i]);
  }
  EXPECT_EQ(types.count(), 0u);
  EXPECT_EQ(account.used(), 0u);
}

TEST(ContentTypes, ConcurrentAcquiresAndReleasesBalance) {
  base::MemoryAccount account(1 << 20);
  ContentTypes types(kTestKey, account);
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(static_cast<std::uint32_t>(t));
      std::vector<std::pair<std::uint32_t, std::string>> held;
      for (int i = 0; i < 20000; ++i) {
        if (held.size() < 8 && random() % 2 == 0) {
          const std::string type = numbered_type(random() % 12);
          std::uint32_t code = 0;
          if (!types.acquire(type, code)) ++wrong;
          held.emplace_back(code, type);
        } else if (!held.empty()) {
          const std::size_t pick = random() % held.size();
          if (types.view(held[pick].first) != held[pick].second) ++wrong;
          types.release(held[pick].first);
          held.erase(held.begin() + static_cast<std::ptrdiff_t>(pick));
        }
      }
      for (const auto& [code, type] : held) types.release(code);
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(types.count(), 0u);
  EXPECT_EQ(account.used(), 0u);
}

TEST(BucketStoreTypes, AFullTableKeepsNewTypesInTheirEntries) {
  BucketStore store(1 << 26, kTestKey);
  for (std::size_t i = 0; i < ContentTypes::kCapacity; ++i) {
    ASSERT_EQ(store.put("typed-" + std::to_string(i), "v", numbered_type(i)).result, PutResult::kCreated);
  }
  EXPECT_EQ(store.content_types().count(), ContentTypes::kCapacity);
  const std::string inline_type = "application/kept-in-the-entry";
  ASSERT_EQ(store.put("inline", "value", inline_type).result, PutResult::kCreated);
  Lookup out;
  ASSERT_TRUE(store.get("inline", out));
  EXPECT_EQ(out.content_type, inline_type);
  EXPECT_EQ(out.value, "value");

  // The largest value kept inline shrinks by the type's length and its length byte.
  const std::string id = "edge";
  const std::size_t largest = kMaxEntryBytes - entry::kHeaderBytes - id.size() - 1 - inline_type.size();
  ASSERT_EQ(store.put(id, std::string(largest, 'e'), inline_type).result, PutResult::kCreated);
  ASSERT_TRUE(store.get(id, out));
  EXPECT_FALSE(out.owner);
  EXPECT_EQ(out.content_type, inline_type);
  ASSERT_EQ(store.put(id, std::string(largest + 1, 'e'), inline_type).result, PutResult::kReplaced);
  ASSERT_TRUE(store.get(id, out));
  EXPECT_TRUE(out.owner);
  EXPECT_EQ(out.value, std::string(largest + 1, 'e'));
  EXPECT_EQ(out.content_type, inline_type);
  out.owner = base::SharedBytes();

  // Once an interned type's last entry goes, its code serves the next new type.
  ASSERT_EQ(store.erase("typed-3"), EraseResult::kErased);
  EXPECT_EQ(store.content_types().count(), ContentTypes::kCapacity - 1);
  ASSERT_EQ(store.put("next", "v", "application/next").result, PutResult::kCreated);
  EXPECT_EQ(store.content_types().count(), ContentTypes::kCapacity);
  ASSERT_TRUE(store.get("next", out));
  EXPECT_EQ(out.content_type, "application/next");
  ASSERT_TRUE(store.get("typed-4", out));
  EXPECT_EQ(out.content_type, numbered_type(4));

  // A replacement drops the old type's reference; a refused put drops the new one's.
  ASSERT_EQ(store.put("typed-5", "v", numbered_type(6)).result, PutResult::kReplaced);
  EXPECT_EQ(store.content_types().count(), ContentTypes::kCapacity - 1);
  const IfAbsent if_absent;
  ASSERT_EQ(store.put("typed-6", "v", "application/refused", 0, &if_absent).result, PutResult::kPreconditionFailed);
  EXPECT_EQ(store.content_types().count(), ContentTypes::kCapacity - 1);
}

}  // namespace
}  // namespace store
