// The store's read-only visit (BucketStore::visit_shard), which a snapshot's capture is built on: every
// entry once, as stored, large values by reference; stopping; and a consistent view of each entry while
// other threads write (run under TSan too).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/xxhash64.h"
#include "durable/snapshot_store.h"
#include "store/bucket_store.h"

namespace durable {
namespace {

class Collect final : public store::ShardVisitor {
 public:
  bool visit(std::string_view id, const store::ObjectView& object) noexcept override {
    if (stop_after != 0 && seen.size() == stop_after) return false;
    seen[std::string(id)] = {std::string(object.value), std::string(object.content_type), object.meta,
                             object.block != nullptr ? object.block->view().data() : nullptr};
    return true;
  }
  struct Seen {
    std::string value, type;
    store::ObjectMeta meta;
    const char* block = nullptr;
  };
  std::map<std::string, Seen> seen;
  std::size_t stop_after = 0;
};

TEST(SnapshotStoreTest, EveryEntryIsVisitedOnceAsStoredWithLargeValuesByReference) {
  store::BucketStore store(64 << 20, base::HashKey{3, 4}, 8);
  for (int i = 0; i < 300; ++i) {
    const std::string value(i % 10 == 0 ? 3000 + i : i, static_cast<char>('a' + i % 26));
    ASSERT_EQ(store.put("id-" + std::to_string(i), value, i % 2 ? "text/plain" : "", 1000 + i).result,
              store::PutResult::kCreated);
  }
  EXPECT_EQ(store.shard_count(), 8u);
  Collect all;
  std::size_t visits = 0;
  for (std::size_t shard = 0; shard < store.shard_count(); ++shard) {
    Collect one;
    EXPECT_TRUE(store.visit_shard(shard, one));
    for (const auto& [id, seen] : one.seen) {
      EXPECT_EQ(store.shard_index(id), shard) << id;
      all.seen[id] = seen;
    }
    visits += one.seen.size();
  }
  EXPECT_EQ(visits, 300u) << "each entry once";
  ASSERT_EQ(all.seen.size(), 300u);
  store::Lookup lookup;
  for (const auto& [id, seen] : all.seen) {
    ASSERT_TRUE(store.get(id, lookup));
    EXPECT_EQ(seen.value, lookup.value) << id;
    EXPECT_EQ(seen.type, lookup.content_type) << id;
    EXPECT_EQ(seen.meta, lookup.meta) << id;
    EXPECT_EQ(seen.block != nullptr, static_cast<bool>(lookup.owner)) << id;
    if (seen.block != nullptr) {
      EXPECT_EQ(seen.block, lookup.owner.view().data()) << "the same block, not a copy";
    }
  }
  Collect stopping;
  stopping.stop_after = 3;
  std::size_t shard = 0;
  while (shard < store.shard_count() && store.visit_shard(shard, stopping)) ++shard;
  EXPECT_EQ(stopping.seen.size(), 3u);
  Collect none;
  EXPECT_FALSE(store.visit_shard(store.shard_count(), none));
  EXPECT_TRUE(none.seen.empty());
}

// Each value starts with its id and the ETag is its hash: a visit that saw a half-written entry, or one
// torn between two puts, would show a mismatch (and TSan the race).
TEST(SnapshotStoreTest, AVisitSeesEachEntryWholeWhileOthersWrite) {
  store::BucketStore store(256 << 20, base::HashKey{5, 6}, 4);
  std::atomic<bool> stop{false};
  std::atomic<int> writes{0};
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        const std::string id = "w" + std::to_string(w) + "-" + std::to_string(i % 97);
        if (i % 5 == 4) {
          (void)store.erase(id);
        } else {
          (void)store.put(id, id + std::string(i % 3 == 0 ? 2500 : i % 50, static_cast<char>(i)), "t", i);
        }
        writes.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  struct Check final : store::ShardVisitor {
    bool visit(std::string_view id, const store::ObjectView& object) noexcept override {
      ++visited;
      if (!object.value.starts_with(id) || object.meta.etag != base::xxhash64(object.value) ||
          object.meta.size != object.value.size() || object.content_type != "t") {
        ++bad;
      }
      return true;
    }
    std::size_t visited = 0, bad = 0;
  } check;
  // Until the writers have done plenty meanwhile (the deadline only bounds a broken run).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  int rounds = 0;
  while ((rounds < 200 || writes.load() < 20000) && std::chrono::steady_clock::now() < deadline) {
    for (std::size_t shard = 0; shard < store.shard_count(); ++shard) ASSERT_TRUE(store.visit_shard(shard, check));
    ++rounds;
  }
  EXPECT_GE(writes.load(), 20000);
  stop.store(true);
  for (std::thread& t : writers) t.join();
  EXPECT_GT(check.visited, 0u);
  EXPECT_EQ(check.bad, 0u);
}

// The capture copies small values and references large ones: a large value deleted from the store after
// its capture stays alive (and charged to the store) until the capture lets it go.
TEST(SnapshotStoreTest, ACaptureHoldsLargeValuesByReferenceAndChargesItsCopies) {
  store::BucketStore store(64 << 20, base::HashKey{7, 8}, 1);
  const std::string large(100000, 'L');
  ASSERT_EQ(store.put("large", large).result, store::PutResult::kCreated);
  ASSERT_EQ(store.put("small", "tiny").result, store::PutResult::kCreated);
  base::MemoryAccount budget(1 << 20);
  {
    SnapshotCapture capture(budget);
    StoreSnapshotSource source(store);
    ASSERT_EQ(source.parts(), 1u);
    ASSERT_TRUE(source.capture(0, capture));
    EXPECT_EQ(capture.objects(), 2u);
    EXPECT_GT(budget.used(), 0u);
    EXPECT_LT(budget.used(), large.size()) << "the large value is not copied";
    EXPECT_EQ(budget.used(), capture.charged());
    const std::size_t with_value = store.stored_bytes();
    ASSERT_EQ(store.erase("large"), store::EraseResult::kErased);
    EXPECT_GT(store.stored_bytes(), large.size()) << "still held by the capture";
    EXPECT_LT(store.stored_bytes(), with_value);
  }
  EXPECT_EQ(budget.used(), 0u);
  EXPECT_LT(store.stored_bytes(), large.size());
}

}  // namespace
}  // namespace durable
