// BucketStore from several threads: readers never see a torn or mixed object while writers replace,
// move and erase entries; racing conditional writes have exactly one winner; and the accounting is exact
// once the threads are done. Meant to run under ThreadSanitizer too (-DSTORAGE_API_SANITIZE=thread).
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <cstddef>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/xxhash64.h"
#include "store/bucket_store.h"
#include "store_model.h"
#include "store_test_support.h"

namespace store {
namespace {

// A value is one repeated byte, and its type names that byte and its length modulo 16 (64 types in all, so
// every one is interned): a reader can tell a torn value, or one with another put's type or metadata.
std::string fill_type(char fill, std::size_t size) {
  return std::string("x/") + fill + "-" + std::to_string(size % 16);
}

bool consistent(const Lookup& out, bool with_value) {
  const std::string_view type = out.content_type;
  const std::string suffix = "-" + std::to_string(out.meta.size % 16);
  if (type.size() < 5 || type.substr(0, 2) != "x/" || type.substr(3) != suffix) return false;
  if (!with_value) return out.value.empty() && !out.owner;
  const std::string_view v = out.value;
  if (out.meta.size != v.size() || out.meta.etag != base::xxhash64(v)) return false;
  return v.empty() || (v.find_first_not_of(v.front()) == std::string_view::npos && type[2] == v.front());
}

TEST(BucketStoreConcurrency, MixedOperationsKeepObjectsWholeAndAccountingExact) {
  constexpr int kThreads = 4;
  constexpr int kIds = 96;
  constexpr int kOperationsPerThread = 20000;
  constexpr std::size_t kPinsPerThread = 6;
  constexpr std::size_t kMaxBytes = 96 * 1024;
  BucketStore store(kMaxBytes, kTestKey, 4);  // few shards: many entries per class, so many moves
  base::MemoryAccount bodies(1 << 22);
  std::vector<std::string> ids;
  for (int i = 0; i < kIds; ++i) ids.push_back("id-" + std::to_string(i));

  std::vector<std::vector<base::SharedBytes>> pins(kThreads);
  std::atomic<int> refusals{0};
  std::atomic<int> torn{0};
  std::atomic<int> over_cap{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<base::SharedBytes>& mine = pins[static_cast<std::size_t>(t)];
      std::mt19937 random(static_cast<std::uint32_t>(1000 + t));
      Lookup out;
      const char fill = static_cast<char>('a' + t);
      for (int i = 0; i < kOperationsPerThread; ++i) {
        const std::string& id = ids[random() % kIds];
        const unsigned operation = random() % 10;
        const std::size_t size = random() % 4 == 0 ? 2000 + random() % 3000 : random() % 300;
        PutResult result = PutResult::kCreated;
        if (operation < 3) {
          result = store.put(id, std::string(size, fill), fill_type(fill, size), i).result;
        } else if (operation == 3) {
          // A received body: charged to the in-flight budget until the store takes it.
          base::ByteBuilder body(&bodies);
          if (!body.reserve_more(size, size)) ADD_FAILURE() << "bodies budget";
          body.append(std::string(size, fill));
          result = store.put(id, std::move(body), fill_type(fill, size), i).result;
        } else if (operation < 6) {
          store.erase(id);
        } else if (store.get(id, out, operation != 6)) {
          if (!consistent(out, operation != 6)) ++torn;
          if (operation == 9 && out.owner) {  // a slow client: held across later operations
            if (mine.size() == kPinsPerThread) mine.erase(mine.begin() + static_cast<std::ptrdiff_t>(i % 3));
            mine.push_back(out.owner);
          }
        }
        if (result == PutResult::kCapacityExceeded) ++refusals;
        if (store.stored_bytes() > kMaxBytes) ++over_cap;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(torn.load(), 0);
  EXPECT_EQ(over_cap.load(), 0);
  EXPECT_GT(refusals.load(), 0) << "the cap was never reached";
  EXPECT_EQ(bodies.used(), 0u) << "every body's charge moved to the store or was released";

  // Exactly what the definition says, from the final contents: pages for each class's count, the tables
  // as they now are, each large value's block and overhead, each held block once, each type once.
  std::vector<std::size_t> counts(store.shard_count() * SizeClasses::kCount, 0);
  std::set<std::string> types;
  std::set<const char*> blocks;
  std::size_t expected = store.usage().table_bytes;
  Lookup out;
  for (const std::string& id : ids) {
    if (!store.get(id, out)) continue;
    ASSERT_TRUE(consistent(out, true)) << id;
    const StoreModel::Object object = StoreModel::shape(id, out.value.size(), std::string(out.content_type));
    ++counts[store.shard_index(id) * SizeClasses::kCount + object.size_class];
    types.insert(std::string(out.content_type));
    if (object.large) {
      expected += BucketStore::kLargeBlockOverheadBytes + out.owner.charged_bytes();
      blocks.insert(out.owner.data());
    }
  }
  out.owner = base::SharedBytes();
  std::size_t pages = 0;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    pages += StoreModel::pages_charge(i % SizeClasses::kCount, counts[i]);
  }
  EXPECT_EQ(store.usage().page_bytes, pages) << "every class is dense";
  expected += pages;
  for (const std::string& type : types) expected += ContentTypes::charge(type.size());
  for (const std::vector<base::SharedBytes>& mine : pins) {
    for (const base::SharedBytes& pin : mine) {
      if (blocks.insert(pin.data()).second) expected += pin.charged_bytes();
    }
  }
  EXPECT_EQ(store.stored_bytes(), expected);

  pins.clear();
  for (const std::string& id : ids) store.erase(id);
  EXPECT_EQ(store.stored_bytes(), 0u);
  EXPECT_EQ(store.bucket_count(), 0u);
  EXPECT_EQ(store.content_types().count(), 0u);
}

// N threads released together by a barrier, each calling `attempt(t)`; returns how many answered `win`.
template <typename Attempt, typename Result>
int race(int threads, Attempt attempt, Result win) {
  std::barrier start(threads);
  std::atomic<int> winners{0};
  std::vector<std::thread> racers;
  for (int t = 0; t < threads; ++t) {
    racers.emplace_back([&, t] {
      start.arrive_and_wait();
      if (attempt(t) == win) ++winners;
    });
  }
  for (std::thread& racer : racers) racer.join();
  return winners.load();
}

TEST(BucketStoreConcurrency, RacingConditionalWritesHaveExactlyOneWinner) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 300;
  BucketStore store(1 << 24, kTestKey, 4);
  Lookup out;
  for (int round = 0; round < kRounds; ++round) {
    const std::string id = "race-" + std::to_string(round % 7);
    // Sizes differ per thread, so the winner moves the entry to another class or out of line.
    const auto value = [](int t) {
      return std::string(static_cast<std::size_t>(50 + 1500 * t), static_cast<char>('0' + t));
    };

    // If-None-Match: * — exactly one creates.
    store.erase(id);
    const IfAbsent if_absent;
    EXPECT_EQ(race(kThreads, [&](int t) { return store.put(id, value(t), "", round, &if_absent).result; },
                   PutResult::kCreated), 1) << "round " << round;
    ASSERT_TRUE(store.get(id, out));
    const std::uint64_t etag = out.meta.etag;

    // If-Match on the current ETag — exactly one replaces; the others see the new ETag.
    const IfMatch if_match(etag);
    EXPECT_EQ(race(kThreads, [&](int t) { return store.put(id, value(t) + "!", "", round, &if_match).result; },
                   PutResult::kReplaced), 1) << "round " << round;
    ASSERT_TRUE(store.get(id, out));
    ASSERT_NE(out.meta.etag, etag);
    EXPECT_EQ(out.meta.etag, base::xxhash64(out.value));

    // A conditional erase — exactly one erases.
    const IfMatch current(out.meta.etag);
    EXPECT_EQ(race(kThreads, [&](int) { return store.erase(id, &current); }, EraseResult::kErased), 1)
        << "round " << round;
    EXPECT_FALSE(store.get(id, out));
  }
  out.owner = base::SharedBytes();
  EXPECT_EQ(store.stored_bytes(), 0u);
}

}  // namespace
}  // namespace store
