#pragma once
// Journal: what BucketStore tells of each change a put() or erase() is about to make, so that a durable log
// records changes in exactly the order the store applies them, per id.
//
// record() is called under the shard's exclusive lock, once the change has passed its condition and is
// certain to succeed (its memory is reserved), and before anything in the store has changed. Refusing it
// (false) leaves the store as it was: the operation answers kJournalRefused. It must not block for long
// (it runs with a shard locked: queue the change, never wait for the disk) and must not call back into the
// store. What it sees of both objects is valid only during the call: it copies what it keeps, or takes a
// reference to a large value's block.
#include <string_view>

#include "base/shared_bytes.h"
#include "store/object_meta.h"

namespace store {

struct ObjectView {
  ObjectMeta meta;
  std::string_view content_type;  // empty when the put had none
  std::string_view value;
  const base::SharedBytes* block = nullptr;  // a large value's block, which `value` is; null for an inline one
};

struct Change {
  std::string_view id;
  const ObjectView* next = nullptr;      // what a put stores; null for an erase
  const ObjectView* previous = nullptr;  // what is replaced or erased; null when the id was absent
};

class Journal {
 public:
  virtual bool record(const Change& change) noexcept = 0;

 protected:
  ~Journal() = default;
};

}  // namespace store
