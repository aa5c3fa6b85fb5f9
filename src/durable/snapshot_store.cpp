#include "durable/snapshot_store.h"

namespace durable {
namespace {

class Copier final : public store::ShardVisitor {
 public:
  explicit Copier(SnapshotCapture& out) noexcept : out_(out) {}
  bool visit(std::string_view id, const store::ObjectView& object) noexcept override {
    return out_.add(id, object.meta.etag, object.meta.modified, object.content_type, object.value, object.block);
  }

 private:
  SnapshotCapture& out_;
};

}  // namespace

bool StoreSnapshotSource::capture(std::size_t part, SnapshotCapture& out) noexcept {
  Copier copier(out);
  return store_.visit_shard(part, copier);
}

}  // namespace durable
