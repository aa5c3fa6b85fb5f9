// BucketStore's accounting against the definition in its header: after any mix of operations, from one
// thread or several, stored_bytes() is the sum of entry_cost() over the stored entries plus the charge of
// each replaced or deleted value a reader still holds; and what is charged covers the real heap.
#include <malloc.h>

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/bucket_store.h"

namespace store {
namespace {

using Result = BucketStore::PutResult;

constexpr base::HashKey kKey{0x5eed5eed5eed5eedULL, 0x0123456789abcdefULL};

// The sanitizers replace malloc, and mallinfo2() then describes a heap nobody uses.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kGlibcHeap = false;
#else
constexpr bool kGlibcHeap = true;
#endif

// Bytes of the heap in use, malloc's chunk headers included, in the calling thread's (the main) arena and
// in mmap'd chunks.
std::size_t heap_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

std::size_t value_charge(std::size_t size) { return base::SharedBytes::header_bytes() + size; }

struct Pin {
  std::string id;
  base::SharedBytes value;
};

// What stored_bytes() must be, by its definition: every live entry's cost, and every held value that is no
// longer the stored one (counted once however many hold it).
std::size_t expected_charge(const BucketStore& store, const std::vector<std::string>& ids,
                            const std::vector<Pin>& pins) {
  std::size_t total = 0;
  std::set<const char*> counted;
  for (const std::string& id : ids) {
    if (const base::SharedBytes value = store.get(id)) {
      EXPECT_EQ(value.charged_bytes(), value_charge(value.size())) << "values are stored without spare room";
      total += BucketStore::entry_cost(id.size(), value.size());
      counted.insert(value.data());
    }
  }
  for (const Pin& pin : pins) {
    if (pin.value && counted.insert(pin.value.data()).second) total += pin.value.charged_bytes();
  }
  return total;
}

TEST(BucketStoreAccounting, MatchesTheModelAfterRandomOperations) {
  constexpr std::size_t kMaxBytes = 6000;
  BucketStore store(kMaxBytes, kKey, 8);
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i) ids.push_back("bucket-" + std::to_string(i));
  std::map<std::string, std::string> model;
  std::vector<Pin> pins;
  std::mt19937 random(12345);
  std::uniform_int_distribution<std::size_t> pick_id(0, ids.size() - 1);
  std::uniform_int_distribution<int> pick_operation(0, 9);
  std::uniform_int_distribution<std::size_t> pick_size(0, 200);

  int refused = 0;
  int replaced_while_held = 0;
  for (int step = 0; step < 5000; ++step) {
    const std::string& id = ids[pick_id(random)];
    const int operation = pick_operation(random);
    base::SharedBytes live = store.get(id);
    const bool exists = static_cast<bool>(live);
    const std::size_t live_size = live.size();
    bool held = false;
    for (const Pin& pin : pins) held = held || (exists && pin.value.data() == live.data());
    if (operation == 8 && exists) {
      ASSERT_EQ(live.view(), model.at(id));
      if (pins.size() == 6) pins.erase(pins.begin() + static_cast<std::ptrdiff_t>(step % 6));
      pins.push_back({id, std::move(live)});
    }
    live = base::SharedBytes();  // this look-up is not a reader the store must account for

    if (operation < 6) {
      const std::string value(pick_size(random), static_cast<char>('a' + step % 26));
      std::size_t needed = BucketStore::entry_cost(id.size(), value.size());
      if (exists && held) {
        needed = value_charge(value.size());
      } else if (exists) {
        needed = value.size() > live_size ? value.size() - live_size : 0;
      }
      const bool fits = needed <= kMaxBytes - store.stored_bytes();
      ASSERT_EQ(store.would_fit(id, value.size()), fits) << "step " << step;
      const Result result = store.put(id, value);
      if (!fits) {
        ASSERT_EQ(result, Result::kCapacityExceeded) << "step " << step;
        ++refused;
      } else {
        ASSERT_EQ(result, exists ? Result::kReplaced : Result::kCreated) << "step " << step;
        if (held) ++replaced_while_held;
        model[id] = value;
      }
    } else if (operation < 8) {
      ASSERT_EQ(store.erase(id), model.erase(id) == 1);
    } else if (operation == 9 && !pins.empty()) {
      pins.erase(pins.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(step) % pins.size()));
    } else {
      ASSERT_EQ(exists, model.count(id) == 1);
    }
    ASSERT_EQ(store.stored_bytes(), expected_charge(store, ids, pins)) << "step " << step;
    ASSERT_EQ(store.bucket_count(), model.size()) << "step " << step;
    ASSERT_LE(store.stored_bytes(), kMaxBytes);
  }
  // The sequence must have reached the cap and replaced held values, or the branches above prove nothing.
  EXPECT_GT(refused, 0);
  EXPECT_GT(replaced_while_held, 0);
  pins.clear();
  std::size_t live_cost = 0;
  for (const auto& [id, value] : model) live_cost += BucketStore::entry_cost(id.size(), value.size());
  EXPECT_EQ(store.stored_bytes(), live_cost);
}

TEST(BucketStoreAccounting, ConcurrentMixedOperationsKeepExactAccounting) {
  constexpr int kThreads = 4;
  constexpr int kIds = 64;
  constexpr int kOperationsPerThread = 20000;
  constexpr std::size_t kPinsPerThread = 8;
  constexpr std::size_t kMaxBytes = 32 * 1024;
  BucketStore store(kMaxBytes, kKey, 16);
  base::MemoryAccount bodies(1 << 20);
  std::vector<std::string> ids;
  for (int i = 0; i < kIds; ++i) ids.push_back("id-" + std::to_string(i));

  std::vector<std::vector<Pin>> pins(kThreads);
  std::vector<int> refusals(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<Pin>& mine = pins[static_cast<std::size_t>(t)];
      std::mt19937 random(static_cast<std::uint32_t>(1000 + t));
      std::uniform_int_distribution<std::size_t> pick_id(0, kIds - 1);
      std::uniform_int_distribution<int> pick_operation(0, 9);
      std::uniform_int_distribution<std::size_t> pick_size(0, 600);
      for (int i = 0; i < kOperationsPerThread; ++i) {
        const std::string& id = ids[pick_id(random)];
        const int operation = pick_operation(random);
        // A value is one repeated byte so that a reader can detect a torn or mixed value.
        const char fill = static_cast<char>('a' + t);
        Result result = Result::kCreated;
        if (operation < 4) {
          result = store.put(id, std::string(pick_size(random), fill));
        } else if (operation == 4) {
          // A received body: charged to the in-flight budget until the store takes it.
          const std::size_t size = pick_size(random);
          base::ByteBuilder body(&bodies);
          if (!body.reserve_more(size, size)) ADD_FAILURE() << "bodies budget";
          body.append(std::string(size, fill));
          result = store.put(id, std::move(body));
        } else if (operation < 7) {
          store.erase(id);
        } else if (base::SharedBytes value = store.get(id)) {
          const std::string_view bytes = value.view();
          if (!bytes.empty() && bytes.find_first_not_of(bytes.front()) != std::string_view::npos) {
            ADD_FAILURE() << "torn value for " << id;
          }
          if (operation == 9) {  // a slow client: held across later operations
            if (mine.size() == kPinsPerThread) mine.erase(mine.begin() + static_cast<std::ptrdiff_t>(i % 3));
            mine.push_back({id, std::move(value)});
          }
        }
        if (result == Result::kCapacityExceeded) ++refusals[static_cast<std::size_t>(t)];
        if (store.stored_bytes() > kMaxBytes) ADD_FAILURE() << "cap exceeded";
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  std::vector<Pin> held;
  for (std::vector<Pin>& mine : pins) {
    for (Pin& pin : mine) held.push_back(std::move(pin));
  }
  int refused = 0;
  for (const int count : refusals) refused += count;
  EXPECT_GT(refused, 0) << "the cap was never reached";
  EXPECT_EQ(store.stored_bytes(), expected_charge(store, ids, held));
  EXPECT_LE(store.stored_bytes(), kMaxBytes);
  EXPECT_EQ(bodies.used(), 0u) << "every body's charge moved to the store or was released";

  held.clear();
  const std::size_t live_cost = expected_charge(store, ids, {});
  EXPECT_EQ(store.stored_bytes(), live_cost);
  EXPECT_GT(store.bucket_count(), 0u);
  for (const std::string& id : ids) store.erase(id);
  EXPECT_EQ(store.stored_bytes(), 0u);
  EXPECT_EQ(store.bucket_count(), 0u);
}

std::string numbered_id(std::size_t number, std::size_t size) {
  char digits[24];
  const int length = std::snprintf(digits, sizeof digits, "%zu-", number);
  std::string id(digits, static_cast<std::size_t>(length));
  id.resize(size, 'x');
  return id;
}

TEST(BucketStoreAccounting, LongIdsWithEmptyValuesAreRefusedOnceTheCapIsReached) {
  // The finding: 1 KiB ids with empty bodies were stored without limit, charged nothing, until the OOM kill.
  constexpr std::size_t kCap = 4 << 20;
  constexpr std::size_t kIdBytes = 1024;
  BucketStore store(kCap, kKey);
  const std::size_t per_entry = BucketStore::entry_cost(kIdBytes, 0);
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < kCap / per_entry + 200; ++i) ids.push_back(numbered_id(i, kIdBytes));
  const std::size_t heap_before = heap_in_use();

  std::size_t created = 0;
  std::size_t refused = 0;
  for (const std::string& id : ids) {
    const Result result = store.put(id, "");
    if (result == Result::kCapacityExceeded) {
      ++refused;
    } else {
      EXPECT_EQ(refused, 0u) << "a put succeeded after the cap refused one";
      EXPECT_EQ(result, Result::kCreated);
      ++created;
    }
  }
  EXPECT_EQ(created, kCap / per_entry);
  EXPECT_EQ(refused, ids.size() - created);
  EXPECT_EQ(store.stored_bytes(), created * per_entry);
  EXPECT_EQ(store.bucket_count(), created);
  EXPECT_FALSE(store.would_fit(numbered_id(ids.size(), kIdBytes), 0)) << "the early check agrees";
  if (kGlibcHeap) {
    // The cap bounds what the entries really take from the heap, not only what is counted.
    const std::size_t grown = heap_in_use() - heap_before;
    EXPECT_LE(grown, store.stored_bytes());
    EXPECT_LE(grown, kCap);
  }
}

struct Shape {
  std::size_t id_size;
  std::size_t value_size;
};

class BucketStoreHeap : public testing::TestWithParam<Shape> {};

TEST_P(BucketStoreHeap, WhatIsChargedCoversTheMeasuredHeapPerEntry) {
  if (!kGlibcHeap) GTEST_SKIP() << "measures glibc's heap, which a sanitizer replaces";
  // Enough entries that each shard's bucket array is beyond its fixed minimum.
  constexpr std::size_t kEntries = 6000;
  const Shape shape = GetParam();
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < kEntries; ++i) ids.push_back(numbered_id(i, shape.id_size));
  const std::string value(shape.value_size, 'v');
  BucketStore store(std::size_t{1} << 40, kKey);

  const std::size_t heap_before = heap_in_use();
  for (const std::string& id : ids) ASSERT_EQ(store.put(id, value), Result::kCreated);
  const double measured = static_cast<double>(heap_in_use() - heap_before) / kEntries;
  const double charged = static_cast<double>(store.stored_bytes()) / kEntries;
  EXPECT_EQ(store.stored_bytes(), kEntries * BucketStore::entry_cost(shape.id_size, shape.value_size));
  RecordProperty("measured_bytes_per_entry", std::to_string(measured));
  RecordProperty("charged_bytes_per_entry", std::to_string(charged));
  std::printf("id %zu B, value %zu B: heap %.1f B/entry, charged %.1f B/entry (overhead beyond id and value: "
              "%.1f measured, %zu charged)\n",
              shape.id_size, shape.value_size, measured, charged,
              measured - static_cast<double>(shape.id_size + shape.value_size),
              BucketStore::kEntryOverheadBytes + base::SharedBytes::header_bytes());
  EXPECT_GE(charged, measured) << "kEntryOverheadBytes is too small to be honest";
  EXPECT_LE(charged, 2 * measured) << "kEntryOverheadBytes overstates the cost";
}

INSTANTIATE_TEST_SUITE_P(Shapes, BucketStoreHeap,
                         testing::Values(Shape{8, 0}, Shape{9, 9}, Shape{64, 100}, Shape{16, 1000},
                                         Shape{1024, 0}, Shape{1024, 4096}));

}  // namespace
}  // namespace store
