#include "store/bucket_store.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace store {
namespace {

using namespace std::string_literals;

std::size_t sum_of_sizes(const std::map<std::string, std::string>& model) {
  std::size_t total = 0;
  for (const auto& [id, value] : model) total += value.size();
  return total;
}

TEST(BucketStore, PutCreatesThenReplaces) {
  BucketStore store(1024);
  EXPECT_EQ(store.put("a", "hello"s), BucketStore::PutResult::kCreated);
  EXPECT_EQ(store.bucket_count(), 1u);
  EXPECT_EQ(store.stored_bytes(), 5u);

  EXPECT_EQ(store.put("a", "hi"s), BucketStore::PutResult::kReplaced);
  EXPECT_EQ(store.bucket_count(), 1u);
  EXPECT_EQ(store.stored_bytes(), 2u);

  const Blob value = store.get("a");
  ASSERT_NE(value, nullptr);
  EXPECT_EQ(*value, "hi");
}

TEST(BucketStore, GetOfAbsentIdIsNull) {
  BucketStore store(1024);
  EXPECT_EQ(store.get("missing"), nullptr);
  store.put("present", "x"s);
  EXPECT_EQ(store.get("missing"), nullptr);
  EXPECT_EQ(store.get("presen"), nullptr);
  EXPECT_NE(store.get("present"), nullptr);
}

TEST(BucketStore, EraseRemovesAndReportsAbsence) {
  BucketStore store(1024);
  store.put("a", "12345"s);
  store.put("b", "678"s);
  EXPECT_TRUE(store.erase("a"));
  EXPECT_EQ(store.get("a"), nullptr);
  EXPECT_EQ(store.bucket_count(), 1u);
  EXPECT_EQ(store.stored_bytes(), 3u);
  EXPECT_FALSE(store.erase("a"));
  EXPECT_FALSE(store.erase("never"));
  EXPECT_EQ(store.bucket_count(), 1u);
  EXPECT_EQ(store.stored_bytes(), 3u);
  ASSERT_NE(store.get("b"), nullptr);
  EXPECT_EQ(*store.get("b"), "678");
}

TEST(BucketStore, KeepsBinaryValuesAndIdsExactly) {
  BucketStore store(1024);
  const std::string value = "a\0b\xff\x00\r\n"s;
  const std::string id = "id\0with nul"s;
  EXPECT_EQ(store.put(id, std::string(value)), BucketStore::PutResult::kCreated);
  EXPECT_EQ(store.stored_bytes(), value.size());
  const Blob stored = store.get(id);
  ASSERT_NE(stored, nullptr);
  EXPECT_EQ(*stored, value);
  // The id is compared in full, not as a C string.
  EXPECT_EQ(store.get("id"), nullptr);
}

TEST(BucketStore, EmptyValueIsAStoredBucket) {
  BucketStore store(1024);
  EXPECT_EQ(store.put("empty", ""s), BucketStore::PutResult::kCreated);
  EXPECT_EQ(store.bucket_count(), 1u);
  EXPECT_EQ(store.stored_bytes(), 0u);
  const Blob value = store.get("empty");
  ASSERT_NE(value, nullptr);
  EXPECT_TRUE(value->empty());
  EXPECT_EQ(store.put("empty", ""s), BucketStore::PutResult::kReplaced);
  EXPECT_TRUE(store.erase("empty"));
  EXPECT_EQ(store.bucket_count(), 0u);
}

TEST(BucketStore, EmptyValueFitsAFullStore) {
  BucketStore store(4);
  store.put("full", "1234"s);
  EXPECT_EQ(store.put("empty", ""s), BucketStore::PutResult::kCreated);
  EXPECT_EQ(store.bucket_count(), 2u);
}

TEST(BucketStore, CapacityExactlyReachedIsAllowed) {
  BucketStore store(10);
  EXPECT_EQ(store.put("a", std::string(4, 'a')), BucketStore::PutResult::kCreated);
  EXPECT_EQ(store.put("b", std::string(6, 'b')), BucketStore::PutResult::kCreated);
  EXPECT_EQ(store.stored_bytes(), 10u);
  EXPECT_EQ(store.stored_bytes(), store.max_bytes());
}

TEST(BucketStore, OneByteOverCapacityIsRefusedAndChangesNothing) {
  BucketStore store(10);
  store.put("a", std::string(4, 'a'));
  EXPECT_EQ(store.put("b", std::string(7, 'b')), BucketStore::PutResult::kCapacityExceeded);
  EXPECT_EQ(store.get("b"), nullptr);
  EXPECT_EQ(store.bucket_count(), 1u);
  EXPECT_EQ(store.stored_bytes(), 4u);
  EXPECT_EQ(store.put("c", std::string(11, 'c')), BucketStore::PutResult::kCapacityExceeded);
  EXPECT_EQ(store.bucket_count(), 1u);
}

TEST(BucketStore, LargerReplacementBeyondCapacityKeepsOldValue) {
  BucketStore store(10);
  store.put("a", "old"s);
  store.put("b", "12345"s);
  EXPECT_EQ(store.put("a", std::string(6, 'n')), BucketStore::PutResult::kCapacityExceeded);
  const Blob value = store.get("a");
  ASSERT_NE(value, nullptr);
  EXPECT_EQ(*value, "old");
  EXPECT_EQ(store.stored_bytes(), 8u);
  EXPECT_EQ(store.bucket_count(), 2u);
  // Only the difference counts: growing "a" by two bytes to reach the cap exactly is fine.
  EXPECT_EQ(store.put("a", std::string(5, 'n')), BucketStore::PutResult::kReplaced);
  EXPECT_EQ(store.stored_bytes(), 10u);
}

TEST(BucketStore, SmallerReplacementFreesBytes) {
  BucketStore store(10);
  store.put("a", std::string(10, 'a'));
  EXPECT_EQ(store.put("b", "x"s), BucketStore::PutResult::kCapacityExceeded);
  EXPECT_EQ(store.put("a", std::string(3, 'a')), BucketStore::PutResult::kReplaced);
  EXPECT_EQ(store.stored_bytes(), 3u);
  EXPECT_EQ(store.put("b", std::string(7, 'b')), BucketStore::PutResult::kCreated);
  EXPECT_EQ(store.stored_bytes(), 10u);
}

TEST(BucketStore, WouldFit) {
  BucketStore store(10);
  EXPECT_TRUE(store.would_fit(0));
  EXPECT_TRUE(store.would_fit(10));
  EXPECT_FALSE(store.would_fit(11));
  store.put("a", std::string(4, 'a'));
  EXPECT_TRUE(store.would_fit(6));
  EXPECT_FALSE(store.would_fit(7));
  EXPECT_FALSE(store.would_fit(std::numeric_limits<std::size_t>::max()));
}

TEST(BucketStore, WouldFitDoesNotOverflowNearTheLimit) {
  constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
  BucketStore store(kMax);
  store.put("a", "abc"s);
  EXPECT_TRUE(store.would_fit(kMax - 3));
  EXPECT_FALSE(store.would_fit(kMax - 2));
  EXPECT_FALSE(store.would_fit(kMax));
}

TEST(BucketStore, SingleShardWorks) {
  for (const std::size_t shards : {std::size_t{0}, std::size_t{1}}) {
    SCOPED_TRACE(shards);
    BucketStore store(100, shards);
    for (int i = 0; i < 20; ++i) store.put("id" + std::to_string(i), "v"s);
    EXPECT_EQ(store.bucket_count(), 20u);
    for (int i = 0; i < 20; ++i) EXPECT_NE(store.get("id" + std::to_string(i)), nullptr);
  }
}

TEST(BucketStore, ReaderKeepsBlobAliveAfterEraseAndReplace) {
  BucketStore store(1024);
  store.put("a", "first"s);
  const Blob held = store.get("a");
  store.put("a", "second"s);
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(*held, "first");
  const Blob held_second = store.get("a");
  EXPECT_TRUE(store.erase("a"));
  EXPECT_EQ(store.get("a"), nullptr);
  ASSERT_NE(held_second, nullptr);
  EXPECT_EQ(*held_second, "second");
  EXPECT_EQ(held_second.use_count(), 1);
}

TEST(BucketStore, AccountingMatchesModelAfterRandomOperations) {
  constexpr std::size_t kMaxBytes = 2000;
  BucketStore store(kMaxBytes, 8);
  std::map<std::string, std::string> model;
  std::mt19937 random(12345);
  std::uniform_int_distribution<int> pick_id(0, 39);
  std::uniform_int_distribution<int> pick_operation(0, 9);
  std::uniform_int_distribution<std::size_t> pick_size(0, 120);

  int refused = 0;
  for (int step = 0; step < 5000; ++step) {
    const std::string id = "bucket-" + std::to_string(pick_id(random));
    const int operation = pick_operation(random);
    if (operation < 6) {
      std::string value(pick_size(random), static_cast<char>('a' + step % 26));
      const auto existing = model.find(id);
      const std::size_t old_size = existing == model.end() ? 0 : existing->second.size();
      const bool fits = sum_of_sizes(model) - old_size + value.size() <= kMaxBytes;
      const std::string copy = value;
      const BucketStore::PutResult result = store.put(id, std::move(value));
      if (!fits) {
        ASSERT_EQ(result, BucketStore::PutResult::kCapacityExceeded);
        ++refused;
      } else {
        ASSERT_EQ(result, existing == model.end() ? BucketStore::PutResult::kCreated
                                                  : BucketStore::PutResult::kReplaced);
        model[id] = copy;
      }
    } else if (operation < 8) {
      ASSERT_EQ(store.erase(id), model.erase(id) == 1);
    } else {
      const Blob value = store.get(id);
      const auto expected = model.find(id);
      if (expected == model.end()) {
        ASSERT_EQ(value, nullptr);
      } else {
        ASSERT_NE(value, nullptr);
        ASSERT_EQ(*value, expected->second);
      }
    }
    ASSERT_EQ(store.stored_bytes(), sum_of_sizes(model)) << "step " << step;
    ASSERT_EQ(store.bucket_count(), model.size()) << "step " << step;
  }
  // The sequence must have exercised the cap, or the refusal branch above proves nothing.
  EXPECT_GT(refused, 0);
}

TEST(BucketStore, ConcurrentMixedOperationsKeepExactAccounting) {
  constexpr int kThreads = 4;
  constexpr int kIds = 64;
  constexpr int kOperationsPerThread = 20000;
  constexpr std::size_t kMaxBytes = 16 * 1024;
  BucketStore store(kMaxBytes, 16);

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&store, t] {
      std::mt19937 random(static_cast<std::uint32_t>(1000 + t));
      std::uniform_int_distribution<int> pick_id(0, kIds - 1);
      std::uniform_int_distribution<int> pick_operation(0, 9);
      std::uniform_int_distribution<std::size_t> pick_size(0, 600);
      for (int i = 0; i < kOperationsPerThread; ++i) {
        const std::string id = "id-" + std::to_string(pick_id(random));
        const int operation = pick_operation(random);
        if (operation < 5) {
          // A value is one repeated byte so a reader can detect a torn or mixed value.
          store.put(id, std::string(pick_size(random), static_cast<char>('a' + t)));
        } else if (operation < 7) {
          store.erase(id);
        } else if (const Blob value = store.get(id)) {
          if (!value->empty() && value->find_first_not_of(value->front()) != std::string::npos) {
            ADD_FAILURE() << "torn value for " << id;
          }
        }
        if (store.stored_bytes() > kMaxBytes) ADD_FAILURE() << "cap exceeded";
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  std::size_t bytes = 0;
  std::size_t count = 0;
  for (int i = 0; i < kIds; ++i) {
    if (const Blob value = store.get("id-" + std::to_string(i))) {
      bytes += value->size();
      ++count;
    }
  }
  EXPECT_EQ(store.stored_bytes(), bytes);
  EXPECT_EQ(store.bucket_count(), count);
  EXPECT_LE(store.stored_bytes(), kMaxBytes);
  EXPECT_GT(count, 0u);
}

}  // namespace
}  // namespace store
