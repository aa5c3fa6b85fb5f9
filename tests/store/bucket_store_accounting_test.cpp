// BucketStore's accounting against the definition in its header: after every operation of a random
// sequence stored_bytes() is what the model of pages, tables, large blocks and content types says; what is
// charged covers the real heap; long ids cannot fill memory for free; pages are reused after deletes.
#include <malloc.h>

#include <gtest/gtest.h>

#include <ostream>

#include <cstddef>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "store/bucket_store.h"
#include "store_model.h"
#include "store_test_support.h"

namespace store {
namespace {

// The sanitizers replace malloc, and mallinfo2() then describes a heap nobody uses.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kGlibcHeap = false;
#else
constexpr bool kGlibcHeap = true;
#endif

// Bytes of the heap in use, malloc's chunk headers included, in the calling thread's (the main) arena and
// in mmap'd chunks. mallinfo counts the chunks malloc's per-thread cache keeps after a free (up to 7 of
// each size up to 1 KiB) as in use, and a test may start with the cache full or empty: the table arrays a
// growing shard frees (192 to 968 bytes) alone make 17 KiB of it. Comparisons allow for that much.
constexpr std::size_t kCachedChunkBytes = 32 * 1024;
std::size_t heap_in_use() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

// The block of a stored large value, or null.
base::SharedBytes stored_block(const BucketStore& store, const std::string& id) {
  Lookup out;
  return store.get(id, out) ? out.owner : base::SharedBytes();
}

// What stored_bytes() must be: the model's structures, every stored large value's block, and every held
// block that is no longer stored (each counted once however many hold it).
std::size_t expected_charge(const BucketStore& store, const StoreModel& model,
                            const std::vector<base::SharedBytes>& pins) {
  std::size_t total = model.structure_charge();
  std::set<const char*> counted;
  for (const auto& [id, object] : model.objects()) {
    if (!object.large) continue;
    const base::SharedBytes block = stored_block(store, id);
    EXPECT_EQ(block.charged_bytes(), StoreModel::block_charge(object.value_size)) << "copied without spare room";
    total += block.charged_bytes();
    counted.insert(block.data());
  }
  for (const base::SharedBytes& pin : pins) {
    if (counted.insert(pin.data()).second) total += pin.charged_bytes();
  }
  return total;
}

std::string numbered_id(std::size_t number, std::size_t size) {
  char digits[24];
  const int length = std::snprintf(digits, sizeof digits, "%zu-", number);
  std::string id(digits, static_cast<std::size_t>(length));
  id.resize(size, 'x');
  return id;
}

TEST(BucketStoreAccounting, MatchesTheModelAfterRandomOperations) {
  constexpr std::size_t kMaxBytes = 48 * 1024;
  BucketStore store(kMaxBytes, kTestKey, 8);
  StoreModel model(store);
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < 60; ++i) ids.push_back(numbered_id(i, i % 10 == 0 ? 200 + 80 * (i / 10) : 6 + i % 20));
  const std::string types[] = {"", "text/plain", "application/json", "image/png", "application/octet-stream"};
  std::vector<base::SharedBytes> pins;
  std::mt19937 random(12345);
  const auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(random); };

  std::map<PutResult, int> results;
  int replaced_while_held = 0;
  for (int step = 0; step < 6000; ++step) {
    const std::string& id = ids[pick(ids.size())];
    const std::size_t operation = pick(10);
    base::SharedBytes live = stored_block(store, id);
    bool held = false;
    for (const base::SharedBytes& pin : pins) held = held || (live && pin.data() == live.data());
    if (operation == 8 && live) {  // a slow client: holds the value across later operations
      if (pins.size() == 6) pins.erase(pins.begin() + static_cast<std::ptrdiff_t>(step % 6));
      pins.push_back(live);
      held = true;
    }
    live = base::SharedBytes();  // this look-up is not a reader the store must account for

    if (operation < 6) {
      // Small values mostly, some either side of the inline limit, some large.
      const std::size_t kind = pick(10);
      const std::size_t size = kind < 7 ? pick(200) : kind < 8 ? 1800 + pick(400) : 2100 + pick(4000);
      const std::string& type = types[pick(std::size(types))];
      const std::size_t available = kMaxBytes - store.stored_bytes();
      const PutResult untyped = model.put(id, size, "", held, available, false);
      ASSERT_EQ(store.would_fit(id, size), untyped != PutResult::kCapacityExceeded) << "step " << step;
      const PutResult expected = model.put(id, size, type, held, available);
      const std::string value = test_value(size, static_cast<std::size_t>(step));
      const PutOutcome outcome = store.put(id, value, type, step);
      ASSERT_EQ(outcome.result, expected) << "step " << step << ", size " << size;
      ++results[outcome.result];
      if (held && outcome.result == PutResult::kReplaced) ++replaced_while_held;
    } else if (operation < 8) {
      ASSERT_EQ(store.erase(id), model.erase(id) ? EraseResult::kErased : EraseResult::kNotFound);
    } else if (operation == 9 && !pins.empty()) {
      pins.erase(pins.begin() + static_cast<std::ptrdiff_t>(pick(pins.size())));
    }
    ASSERT_EQ(store.stored_bytes(), expected_charge(store, model, pins)) << "step " << step;
    ASSERT_EQ(store.usage().page_bytes, model.page_charge()) << "step " << step;
    ASSERT_EQ(store.usage().table_bytes, model.table_charge()) << "step " << step;
    ASSERT_EQ(store.bucket_count(), model.objects().size());
    ASSERT_LE(store.stored_bytes(), kMaxBytes);
  }
  // The sequence must have reached the cap and replaced held values, or the branches above prove nothing.
  EXPECT_GT(results[PutResult::kCapacityExceeded], 100);
  EXPECT_GT(results[PutResult::kCreated], 100);
  EXPECT_GT(results[PutResult::kReplaced], 100);
  EXPECT_GT(replaced_while_held, 0);

  // Every object reads back as the model's, and emptying the store leaves nothing charged.
  pins.clear();
  {
    Lookup out;
    for (const auto& [id, object] : model.objects()) {
      ASSERT_TRUE(store.get(id, out));
      EXPECT_EQ(out.value.size(), object.value_size);
      EXPECT_EQ(out.content_type, object.type);
    }
  }
  for (const std::string& id : ids) store.erase(id);
  EXPECT_EQ(store.stored_bytes(), 0u);
  EXPECT_EQ(store.usage().pages, 0u);
}

TEST(BucketStoreAccounting, LongIdsWithEmptyValuesAreRefusedOnceTheCapIsReached) {
  // The finding: 1 KiB ids with empty bodies were stored without limit, charged nothing, until the OOM kill.
  constexpr std::size_t kCap = 4 << 20;
  constexpr std::size_t kIdBytes = 1024;
  BucketStore store(kCap, kTestKey);
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < kCap / BucketStore::entry_bytes(kIdBytes, 0) + 200; ++i) {
    ids.push_back(numbered_id(i, kIdBytes));
  }
  const std::size_t heap_before = heap_in_use();
  std::size_t created = 0;
  std::size_t refused = 0;
  for (const std::string& id : ids) {
    const PutResult result = store.put(id, "").result;
    if (result == PutResult::kCapacityExceeded) {
      ++refused;
    } else {
      EXPECT_EQ(result, PutResult::kCreated);
      ++created;
    }
  }
  EXPECT_GE(refused, 200u);
  EXPECT_GT(created, kCap / BucketStore::entry_bytes(kIdBytes, 0) * 9 / 10) << "the cap is spent on entries";
  EXPECT_EQ(store.bucket_count(), created);
  EXPECT_LE(store.stored_bytes(), kCap);
  EXPECT_FALSE(store.would_fit(numbered_id(ids.size(), kIdBytes), 4096)) << "the early check agrees";
  if (kGlibcHeap) {
    // The cap bounds what the entries really take from the heap, not only what is counted.
    const std::size_t grown = heap_in_use() - heap_before;
    EXPECT_LE(grown, store.stored_bytes() + kCachedChunkBytes);
  }
}

struct Shape {
  std::size_t id_size;
  std::size_t value_size;
  const char* type;
};
// What gtest prints for a shape (by default its bytes, including the pointer, which ASLR moves).
void PrintTo(const Shape& shape, std::ostream* out) {
  *out << shape.id_size << "-byte id, " << shape.value_size << "-byte value, type \"" << shape.type << '"';
}

class BucketStoreHeap : public testing::TestWithParam<Shape> {};

TEST_P(BucketStoreHeap, WhatIsChargedCoversTheMeasuredHeapPerEntry) {
  if (!kGlibcHeap) GTEST_SKIP() << "measures glibc's heap, which a sanitizer replaces";
  // Enough entries that each shard's table is beyond its embedded minimum and the cache allowance is 2 bytes
  // an entry, few enough that its array is malloc'd (mallinfo does not see the store's own mmaps).
  constexpr std::size_t kEntries = 16000;
  const Shape shape = GetParam();
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < kEntries; ++i) ids.push_back(numbered_id(i, shape.id_size));
  const std::string value(shape.value_size, 'v');
  BucketStore store(std::size_t{1} << 40, kTestKey);

  const std::size_t heap_before = heap_in_use();
  for (const std::string& id : ids) ASSERT_EQ(store.put(id, value, shape.type).result, PutResult::kCreated);
  const double measured = static_cast<double>(heap_in_use() - heap_before) / kEntries;
  const double charged = static_cast<double>(store.stored_bytes()) / kEntries;
  const double own = static_cast<double>(BucketStore::entry_bytes(shape.id_size, shape.value_size));
  RecordProperty("measured_bytes_per_entry", std::to_string(measured));
  RecordProperty("charged_bytes_per_entry", std::to_string(charged));
  std::printf("id %zu B, value %zu B: heap %.1f B/entry, charged %.1f B/entry, the entry itself %.0f B\n",
              shape.id_size, shape.value_size, measured, charged, own);
  const double cached = static_cast<double>(kCachedChunkBytes) / kEntries;
  EXPECT_GE(charged + cached, measured) << "the charge is too small";
  // A large value's block is charged kLargeBlockOverheadBytes for a chunk header and rounding of at most 23.
  EXPECT_LE(charged, measured + cached + (own > kMaxEntryBytes ? BucketStore::kLargeBlockOverheadBytes : 0))
      << "the charge overstates the cost";
  EXPECT_GE(charged, own);
}

INSTANTIATE_TEST_SUITE_P(Shapes, BucketStoreHeap,
                         testing::Values(Shape{8, 0, ""}, Shape{9, 9, "text/plain"}, Shape{17, 100, "a/b"},
                                         Shape{64, 100, ""}, Shape{16, 1000, ""}, Shape{16, 2013, ""},
                                         Shape{16, 2014, ""}, Shape{1024, 0, ""}, Shape{1024, 4096, "x/y"}),
                         [](const testing::TestParamInfo<Shape>& shape) {
                           // A stable name (the default prints the type pointer, which ASLR moves).
                           return "id" + std::to_string(shape.param.id_size) + "_value" +
                                  std::to_string(shape.param.value_size) + (*shape.param.type ? "_typed" : "");
                         });

TEST(BucketStoreAccounting, AtScaleAnEntryCostsItsSlotAndAFewBytes) {
  // The memory goal's shape: 17-byte ids, 100-byte values, an interned type: a 136-byte slot, its share of
  // a 4 KiB page's headers (about 1 byte) and of the table (8.9 to 13.3 bytes).
  constexpr std::size_t kEntries = 200000;
  BucketStore store(std::size_t{1} << 40, kTestKey);
  const std::string value(100, 'v');
  for (std::size_t i = 0; i < kEntries; ++i) {
    ASSERT_EQ(store.put(numbered_id(i, 17), value, "application/octet-stream", 1).result, PutResult::kCreated);
  }
  const double charged = static_cast<double>(store.stored_bytes()) / kEntries;
  std::printf("%zu entries of a 17-byte id and a 100-byte value: %.1f bytes charged each\n", kEntries, charged);
  EXPECT_EQ(BucketStore::entry_bytes(17, 100), 136u);
  EXPECT_LE(charged, 136 + 1.5 + 13.4);
  const BucketStore::Usage usage = store.usage();
  EXPECT_LE(static_cast<double>(usage.page_bytes) / kEntries, 136 + 1.5 + 64.0 * 4096 / kEntries);
}

TEST(BucketStoreAccounting, PagesAreReusedAfterDeletes) {
  constexpr std::size_t kEntries = 20000;
  BucketStore store(std::size_t{1} << 40, kTestKey, 16);
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < kEntries; ++i) ids.push_back(numbered_id(i, 12));
  std::mt19937 random(7);
  std::vector<std::string> kept;
  std::vector<std::string> deleted;
  for (const std::string& id : ids) (random() % 10 == 0 ? kept : deleted).push_back(id);
  std::vector<std::size_t> per_shard(store.shard_count(), 0);
  for (const std::string& id : kept) ++per_shard[store.shard_index(id)];
  for (const std::string& id : ids) ASSERT_EQ(store.put(id, "0123456789").result, PutResult::kCreated);
  const BucketStore::Usage full = store.usage();
  const std::size_t heap_full = heap_in_use();

  // Delete nine in ten at random: each class of each shard stays dense, with only its last page partly used.
  for (const std::string& id : deleted) ASSERT_EQ(store.erase(id), EraseResult::kErased);
  const std::size_t size_class = StoreModel::shape(kept.front(), 10, "").size_class;
  std::size_t expected_pages = 0;
  for (const std::size_t n : per_shard) expected_pages += StoreModel::pages_charge(size_class, n);
  EXPECT_EQ(store.usage().page_bytes, expected_pages) << "sparse pages were left behind";
  EXPECT_LT(store.usage().page_bytes, full.page_bytes / 5);
  Lookup out;
  for (const std::string& id : kept) {
    ASSERT_TRUE(store.get(id, out));
    EXPECT_EQ(out.value, "0123456789") << "an entry moved to fill a hole kept its bytes";
  }

  // Filling again takes the pages back to what they were; the heap does not grow past the first fill.
  for (const std::string& id : deleted) ASSERT_EQ(store.put(id, "0123456789").result, PutResult::kCreated);
  EXPECT_EQ(store.usage().pages, full.pages);
  EXPECT_EQ(store.usage().page_bytes, full.page_bytes);
  if (kGlibcHeap) {
    EXPECT_LE(heap_in_use(), heap_full + kCachedChunkBytes);
  }
  for (const std::string& id : ids) ASSERT_EQ(store.erase(id), EraseResult::kErased);
  EXPECT_EQ(store.stored_bytes(), 0u);
  EXPECT_EQ(store.usage().pages, 0u);
}

}  // namespace
}  // namespace store
