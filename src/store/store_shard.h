#pragma once
// BucketStore's shard, shared by the files that implement the store.
#include <cstddef>
#include <shared_mutex>

#include "store/bucket_store.h"
#include "store/entry_table.h"
#include "store/slab.h"

namespace store {

// A cache line apart: shards sit side by side in one array, and a lock taken on one must not slow its
// neighbour.
struct alignas(64) BucketStore::Shard {
  mutable std::shared_mutex mutex;
  EntryTable table;
  Slab slab;
  std::size_t large_entries = 0;  // under the lock
};

}  // namespace store
