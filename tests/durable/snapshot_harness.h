#pragma once
// For the snapshot tests: a store whose writes are journaled to a LogWriter as the service does (applied and
// submitted under the shard's lock, undone when a suffix of the log fails, acknowledged once logged), the
// model of what was acknowledged, and a recovery that rebuilds the state from the directory.
#include <gtest/gtest.h>

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "base/xxhash64.h"
#include "durable/data_directory.h"
#include "durable/recovery.h"
#include "durable/snapshot.h"
#include "durable/snapshot_store.h"
#include "log_writer_harness.h"
#include "store/bucket_store.h"

namespace durable::test {

struct Object {
  std::string value;
  std::string content_type;
  std::int64_t modified = 0;
  friend bool operator==(const Object&, const Object&) = default;
};
using Model = std::map<std::string, Object>;

inline std::string describe(const Model& model) {
  std::string out;
  for (const auto& [id, object] : model) out += id + "=" + std::to_string(object.value.size()) + "B ";
  return out;
}

class JournaledStore;

// One write from its journaling to its acknowledgement (or failure).
class Write final : public store::Journal, public Completion {
 public:
  Write(JournaledStore& owner, std::string id, std::optional<Object> next) noexcept
      : owner_(owner), id_(std::move(id)), next_(std::move(next)) {}

  bool record(const store::Change& change) noexcept override;
  void logged(std::uint64_t, const base::Status& status) noexcept override;

  // True once acknowledged; false when refused or failed.
  bool wait() {
    std::unique_lock lock(mutex_);
    const bool resolved = changed_.wait_for(lock, kPatience, [&] { return done_; });
    EXPECT_TRUE(resolved) << "a write was never resolved: " << id_;
    return ok_;
  }
  void refused() {
    const std::lock_guard lock(mutex_);
    done_ = true;
    ok_ = false;
    changed_.notify_all();
  }
  int error_number() const {
    const std::lock_guard lock(mutex_);
    return error_number_;
  }

 private:
  JournaledStore& owner_;
  const std::string id_;
  const std::optional<Object> next_;  // nullopt: an erase
  std::optional<Object> previous_;
  store::ObjectMeta applied_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  bool done_ = false;
  bool ok_ = false;
  int error_number_ = 0;
};

class JournaledStore {
 public:
  explicit JournaledStore(LogWriter* log, std::size_t shards = 4)
      : log_(log), store_(std::size_t{1} << 30, base::HashKey{1, 2}, shards) {}

  void attach(LogWriter* log) { log_ = log; }
  store::BucketStore& store() { return store_; }
  LogWriter& log() { return *log_; }

  std::shared_ptr<Write> put_async(const std::string& id, const std::string& value,
                                   const std::string& type = "text/plain") {
    const std::int64_t modified = 1'700'000'000 + next_time_++;
    auto write = std::make_shared<Write>(*this, id, Object{value, type, modified});
    const store::PutOutcome outcome = store_.put(id, std::string_view(value), type, modified, nullptr, write.get());
    if (outcome.result != store::PutResult::kCreated && outcome.result != store::PutResult::kReplaced) write->refused();
    return write;
  }
  std::shared_ptr<Write> erase_async(const std::string& id) {
    auto write = std::make_shared<Write>(*this, id, std::nullopt);
    if (store_.erase(id, nullptr, write.get()) != store::EraseResult::kErased) write->refused();
    return write;
  }
  bool put(const std::string& id, const std::string& value, const std::string& type = "text/plain") {
    return put_async(id, value, type)->wait();
  }
  bool erase(const std::string& id) { return erase_async(id)->wait(); }

  Model acknowledged() const {
    const std::lock_guard lock(mutex_);
    return model_;
  }

 private:
  friend class Write;
  void acknowledge(const std::string& id, const std::optional<Object>& next) {
    const std::lock_guard lock(mutex_);
    if (next) {
      model_[id] = *next;
    } else {
      model_.erase(id);
    }
  }

  LogWriter* log_;
  store::BucketStore store_;
  std::int64_t next_time_ = 0;
  mutable std::mutex mutex_;
  Model model_;
};

inline bool Write::record(const store::Change& change) noexcept {
  if (change.previous != nullptr) {
    previous_ = Object{std::string(change.previous->value), std::string(change.previous->content_type),
                       change.previous->meta.modified};
  }
  Record record;
  base::SharedBytes owner;
  if (change.next != nullptr) {
    applied_ = change.next->meta;
    record = put_record(0, id_, change.next->value, applied_.etag, applied_.modified, change.next->content_type);
    if (change.next->block != nullptr) owner = *change.next->block;
  } else {
    record = delete_record(0, id_);
  }
  return owner_.log().submit(record, std::move(owner), *this).is_ok();
}

inline void Write::logged(std::uint64_t, const base::Status& status) noexcept {
  if (status) {
    owner_.acknowledge(id_, next_);
  } else if (!is_log_failure(status)) {
    // A failed suffix: newest first, so the id shows this write unless something refused in between.
    store::BucketStore& store = owner_.store();
    struct StillApplied final : store::Condition {
      bool is_put;
      store::ObjectMeta applied;
      bool allows(const store::ObjectMeta* current) const noexcept override {
        return is_put ? current != nullptr && *current == applied : current == nullptr;
      }
    } still;
    still.is_put = next_.has_value();
    still.applied = applied_;
    if (!previous_) {
      (void)store.erase(id_, &still);
    } else {
      (void)store.put(id_, std::string_view(previous_->value), previous_->content_type, previous_->modified, &still);
    }
  }
  const std::lock_guard lock(mutex_);
  done_ = true;
  ok_ = status.is_ok();
  error_number_ = status.error_number();
  changed_.notify_all();
}

// Rebuilds the state from what recovery replays; checks each put's ETag against its bytes.
class ModelSink final : public ReplaySink {
 public:
  base::Status apply(const Record& record) noexcept override {
    if (record.operation == Operation::kDelete) {
      model.erase(std::string(record.id));
      return base::Status::ok();
    }
    if (record.etag != base::xxhash64(record.value)) ++bad_etags;
    model[std::string(record.id)] = Object{std::string(record.value), std::string(record.content_type),
                                           record.modified_unix_seconds};
    return base::Status::ok();
  }
  Model model;
  std::size_t bad_etags = 0;
};

inline std::string value_of(std::size_t size, int seed) {
  std::string value(size, '\0');
  std::uint64_t x = static_cast<std::uint64_t>(seed) * 0x9E3779B97F4A7C15ULL + 1;
  for (char& c : value) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  return value;
}

// A log writer in a temp dir (through the fault-injecting file system), a journaled store on it, and the
// snapshot and recovery calls the tests make.
class SnapshotTest : public LogWriterTest {
 protected:
  void SetUp() override {
    writer_ = open(FsyncPolicy::kAlways);
    ASSERT_TRUE(writer_);
    data_.attach(writer_.get());
  }
  void TearDown() override {
    fs_.open_sync_gate();  // a test that failed holding it must not hang here
    if (writer_) (void)writer_->close();
  }

  base::Result<SnapshotReport> snapshot(base::MemoryAccount* budget = nullptr) {
    StoreSnapshotSource source(data_.store());
    SnapshotOptions options;
    options.directory = dir();
    return write_snapshot(fs_, *writer_, source, budget != nullptr ? *budget : budget_, options);
  }
  base::Result<RecoveryReport> recover_into(ModelSink& sink, bool repair = false) {
    RecoveryOptions options;
    options.directory = dir();
    options.repair = repair;
    return durable::recover(real_, options, sink);
  }
  DataDirectoryListing listing() {
    auto listed = list_data_directory(real_, dir());
    EXPECT_TRUE(listed) << listed.status().message();
    return listed ? *listed : DataDirectoryListing{};
  }
  // Objects of every shape: inline and large values, an empty one, binary ids, with and without a type.
  void fill(int rounds = 1) {
    for (int r = 0; r < rounds; ++r) {
      for (int i = 0; i < 40; ++i) {
        const std::string id = "id-" + std::to_string(i);
        const std::size_t size = i % 7 == 0 ? 5000 + 311 * i : (i % 5 == 0 ? 0 : 10 * i);
        ASSERT_TRUE(data_.put(id, value_of(size, i + 100 * r), i % 3 == 0 ? "" : "text/plain"));
      }
      ASSERT_TRUE(data_.put(std::string("bin\0\xff", 5), "binary id"));
      ASSERT_TRUE(data_.erase("id-3"));
      ASSERT_TRUE(writer_->rotate());
    }
  }

  std::unique_ptr<LogWriter> writer_;
  JournaledStore data_{nullptr};
};

}  // namespace durable::test
