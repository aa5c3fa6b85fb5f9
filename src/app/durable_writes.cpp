#include "app/durable_writes.h"

#include <cerrno>
#include <string>
#include <utility>

#include "durable/file_ops.h"
#include "durable/record.h"
#include "http/http_date.h"
#include "http/validators.h"

namespace app {

// One PUT or DELETE between its submission to the log and its answer. Owned by itself (self_) from just
// before the store is asked until the log has reported, then by the task that answers on the loop.
class PendingWrite final : public store::Journal, public durable::Completion {
 public:
  PendingWrite(DurableWrites& owner, net::EventLoop& loop) noexcept : owner_(owner), loop_(loop) {}

  // Under the shard's lock: keeps what an undo needs and submits the record.
  bool record(const store::Change& change) noexcept override {
    std::size_t keep = sizeof(PendingWrite) + change.id.size();
    if (const store::ObjectView* previous = change.previous; previous != nullptr) {
      keep += previous->content_type.size() + (previous->block == nullptr ? previous->value.size() : 0);
    }
    if (!owner_.pending_budget_.try_reserve(keep)) {
      refusal_ = 503;
      return false;
    }
    charge_ = base::MemoryReservation::adopt(owner_.pending_budget_, keep);
    try {
      id_.assign(change.id);
      if (change.previous != nullptr) {
        had_previous_ = true;
        previous_meta_ = change.previous->meta;
        previous_type_.assign(change.previous->content_type);
        if (change.previous->block != nullptr) {
          previous_block_ = *change.previous->block;
        } else {
          previous_value_.assign(change.previous->value);
        }
      }
    } catch (const std::exception&) {
      refusal_ = 503;
      return false;
    }
    durable::Record record;
    base::SharedBytes value_owner;
    if (change.next != nullptr) {
      is_put_ = true;
      applied_ = change.next->meta;
      record = durable::put_record(0, id_, change.next->value, applied_.etag, applied_.modified,
                                   change.next->content_type);
      if (change.next->block != nullptr) value_owner = *change.next->block;
    } else {
      record = durable::delete_record(0, id_);
    }
    const base::Result<std::uint64_t> submitted =
        owner_.log_.submit(record, std::move(value_owner), *this, durable::LogWriter::Wake::kLater);
    if (!submitted) {
      refusal_ = durable::is_no_space(submitted.status()) ? 507 : 503;
      return false;
    }
    return true;
  }

  // On the log's thread.
  void logged(std::uint64_t, const base::Status& status) noexcept override {
    if (!status) {
      status_ = durable::is_no_space(status) ? 507 : 503;
      if (durable::is_log_failure(status)) {
        // Not undone: the process ends, and these come oldest first.
        owner_.report_failure(status);
      } else {
        // A suffix of the log failed (no space, or no memory for the batch), newest first.
        undo();
      }
    }
    std::shared_ptr<PendingWrite> self = std::move(self_);
    try {
      loop_.post([self] { self->answer(); });
    } catch (const std::exception&) {
      // Without memory for the task the answer is lost; the connection's write timeout closes it.
    }
  }

  void hold(std::shared_ptr<PendingWrite> self) noexcept { self_ = std::move(self); }
  void release() noexcept { self_.reset(); }
  void answer_through(http::PendingResponse response) noexcept { response_ = std::move(response); }
  int refusal() const noexcept { return refusal_; }

 private:
  // Holds exactly when the id still shows what this write made of it.
  class StillApplied final : public store::Condition {
   public:
    StillApplied(bool is_put, const store::ObjectMeta& applied) noexcept : is_put_(is_put), applied_(applied) {}
    bool allows(const store::ObjectMeta* current) const noexcept override {
      return is_put_ ? current != nullptr && *current == applied_ : current == nullptr;
    }

   private:
    bool is_put_;
    store::ObjectMeta applied_;
  };

  // Puts back what the write replaced. Every later write to the id failed too and was undone first, so
  // the id shows this write's object unless something refused in between.
  void undo() noexcept {
    const StillApplied still(is_put_, applied_);
    if (!had_previous_) {
      (void)owner_.store_.erase(id_, &still);
    } else if (previous_block_) {
      (void)owner_.store_.put_shared(id_, previous_block_, previous_type_, previous_meta_.modified, &still);
    } else {
      (void)owner_.store_.put(id_, std::string_view(previous_value_), previous_type_, previous_meta_.modified,
                              &still);
    }
    previous_block_ = base::SharedBytes();
  }

  // On the request's loop.
  void answer() noexcept {
    http::Response response;
    if (status_ != 200) {
      response = http::Response::error(status_);
    } else if (is_put_) {
      response.etag = http::format_etag(applied_.etag, etag_text_);
      response.last_modified = http::format_http_date(applied_.modified, date_text_);
    }
    response_.complete(response);
    previous_block_ = base::SharedBytes();
    charge_ = base::MemoryReservation();
  }

  DurableWrites& owner_;
  net::EventLoop& loop_;
  std::shared_ptr<PendingWrite> self_;
  http::PendingResponse response_;
  base::MemoryReservation charge_;
  std::string id_;
  bool is_put_ = false;
  store::ObjectMeta applied_;
  bool had_previous_ = false;
  store::ObjectMeta previous_meta_;
  std::string previous_type_;
  std::string previous_value_;
  base::SharedBytes previous_block_;
  int refusal_ = 503;
  int status_ = 200;
  char etag_text_[http::kEtagBytes] = {};
  char date_text_[http::kHttpDateBytes] = {};
};

namespace {

std::shared_ptr<PendingWrite> make_pending(DurableWrites& owner, net::EventLoop& loop) noexcept {
  try {
    auto pending = std::make_shared<PendingWrite>(owner, loop);
    pending->hold(pending);
    return pending;
  } catch (const std::exception&) {
    return nullptr;
  }
}

}  // namespace

void DurableWrites::wake_log_after_batch(LoopWrites& loop) noexcept {
  if (loop.wake_due) return;
  try {
    loop.loop->defer([this, &loop] {
      loop.wake_due = false;
      log_.wake();
    });
    loop.wake_due = true;
  } catch (const std::exception&) {
    log_.wake();
  }
}

void DurableWrites::report_failure(const base::Status& status) noexcept {
  if (failed_.exchange(true, std::memory_order_relaxed)) return;
  if (on_log_failure_) on_log_failure_(status);
}

bool DurableWrites::put(std::string_view id, base::ByteBuilder&& body, std::string_view content_type,
                        std::int64_t modified, const store::Condition* condition, LoopWrites& loop,
                        http::Deferrer& deferrer, store::PutOutcome& outcome, http::Response& response) noexcept {
  const std::shared_ptr<PendingWrite> pending = make_pending(*this, *loop.loop);
  if (!pending) {
    outcome = {store::PutResult::kJournalRefused, {}};
    response = http::Response::error(503);
    return false;
  }
  outcome = store_.put(id, std::move(body), content_type, modified, condition, pending.get());
  if (outcome.result == store::PutResult::kCreated || outcome.result == store::PutResult::kReplaced) {
    wake_log_after_batch(loop);
    try {
      pending->answer_through(deferrer.defer());
      return true;
    } catch (const std::exception&) {
      // Applied and on its way to the log, but it cannot be answered later: it is not acknowledged.
      response = http::Response::error(503);
      outcome.result = store::PutResult::kJournalRefused;
      return false;
    }
  }
  pending->release();
  if (outcome.result == store::PutResult::kJournalRefused) response = http::Response::error(pending->refusal());
  return false;
}

bool DurableWrites::erase(std::string_view id, const store::Condition* condition, LoopWrites& loop,
                          http::Deferrer& deferrer, store::EraseResult& result, http::Response& response) noexcept {
  const std::shared_ptr<PendingWrite> pending = make_pending(*this, *loop.loop);
  if (!pending) {
    result = store::EraseResult::kJournalRefused;
    response = http::Response::error(503);
    return false;
  }
  result = store_.erase(id, condition, pending.get());
  if (result == store::EraseResult::kErased) {
    wake_log_after_batch(loop);
    try {
      pending->answer_through(deferrer.defer());
      return true;
    } catch (const std::exception&) {
      // Applied and on its way to the log, but it cannot be answered later: it is not acknowledged.
      response = http::Response::error(503);
      result = store::EraseResult::kJournalRefused;
      return false;
    }
  }
  pending->release();
  if (result == store::EraseResult::kJournalRefused) response = http::Response::error(pending->refusal());
  return false;
}

}  // namespace app
