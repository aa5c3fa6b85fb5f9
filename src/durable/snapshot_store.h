#pragma once
// StoreSnapshotSource: the bucket store as what a snapshot is taken of (durable/snapshot.h): one part per
// shard, each captured under that shard's shared lock only while it is copied (store::BucketStore::
// visit_shard): ids, metadata, content types and small values copied, large values referenced.
#include <cstddef>

#include "durable/snapshot.h"
#include "store/bucket_store.h"

namespace durable {

class StoreSnapshotSource final : public SnapshotSource {
 public:
  explicit StoreSnapshotSource(const store::BucketStore& store) noexcept : store_(store) {}

  std::size_t parts() const noexcept override { return store_.shard_count(); }
  bool capture(std::size_t part, SnapshotCapture& out) noexcept override;

 private:
  const store::BucketStore& store_;
};

}  // namespace durable
