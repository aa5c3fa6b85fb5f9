#include "app/bucket_requests.h"

#include <ctime>

#include "base/text.h"
#include "http/media_type.h"

namespace app {
namespace {

constexpr std::string_view kBearerChallenge = R"(Bearer realm="storage_api")";
constexpr std::string_view kBearerInvalidToken = R"(Bearer realm="storage_api", error="invalid_token")";

bool is_precondition_field(std::string_view name) noexcept {
  return base::equals_ignore_case(name, "if-match") || base::equals_ignore_case(name, "if-none-match") ||
         base::equals_ignore_case(name, "if-modified-since") || base::equals_ignore_case(name, "if-unmodified-since");
}

bool has_preconditions(const http::RequestHead& head) noexcept {
  for (std::size_t i = 0; i < head.header_count; ++i) {
    if (is_precondition_field(head.headers[i].name)) return true;
  }
  return false;
}

// The value of a field that must appear at most once; false when it appears more often (the request is
// then treated as if it carried none: a Range sent twice is ambiguous, so it is ignored).
bool single_field(const http::RequestHead& head, std::string_view name, std::string_view& value) noexcept {
  value = {};
  bool seen = false;
  for (std::size_t i = 0; i < head.header_count; ++i) {
    if (!base::equals_ignore_case(head.headers[i].name, name)) continue;
    if (seen) {
      value = {};
      return false;
    }
    seen = true;
    value = head.headers[i].value;
  }
  return true;
}

http::Validators validators_of(const store::ObjectMeta& meta, char* etag_text) noexcept {
  http::Validators validators;
  validators.exists = true;
  validators.etag = http::format_etag(meta.etag, etag_text);
  validators.last_modified = meta.modified;
  return validators;
}

// A PUT's or DELETE's preconditions, evaluated by the store under its lock against the current object.
class StoreCondition final : public store::Condition {
 public:
  StoreCondition(const http::RequestHead& head, bool ignore_when_absent) noexcept
      : head_(head), ignore_when_absent_(ignore_when_absent) {}

  bool allows(const store::ObjectMeta* current) const noexcept override {
    if (current == nullptr && ignore_when_absent_) return true;
    char etag_text[http::kEtagBytes];
    const http::Validators validators = current ? validators_of(*current, etag_text) : http::Validators{};
    verdict_ = http::evaluate_preconditions(head_, validators);
    return verdict_ == http::Precondition::kProceed;
  }
  // 400 for a malformed condition, else 412.
  int refusal_status() const noexcept { return verdict_ == http::Precondition::kMalformed ? 400 : 412; }

 private:
  const http::RequestHead& head_;
  bool ignore_when_absent_;
  mutable http::Precondition verdict_ = http::Precondition::kProceed;
};

std::string_view content_type_of(const http::RequestHead& head, bool& valid) noexcept {
  std::string_view value;
  valid = single_field(head, "content-type", value) && (value.empty() || http::is_valid_media_type(value));
  // An empty field is no content type; a field sent twice is refused rather than guessed at.
  return value;
}

}  // namespace

bool BucketRequests::refuse_access(const http::RequestHead& head, http::Response& response) const {
  if (access_ == nullptr) return false;
  const bool writes = head.method == http::Method::kPut || head.method == http::Method::kDelete;
  const Access needed = writes ? Access::kWrite : Access::kRead;
  if (!access_->required(needed)) return false;
  const AccessVerdict verdict = access_->check(needed, head.header("authorization"));
  if (verdict == AccessVerdict::kAllowed) return false;
  response = http::Response::error(401);
  response.www_authenticate = verdict == AccessVerdict::kInvalid ? kBearerInvalidToken : kBearerChallenge;
  return true;
}

bool BucketRequests::admit(const http::RequestHead& head, http::Response& refusal) const {
  if (refuse_access(head, refusal)) return false;
  if (head.method == http::Method::kPut) {
    bool valid = true;
    (void)content_type_of(head, valid);
    if (!valid) {
      refusal = http::Response::error(400);
      return false;
    }
  }
  return true;
}

void BucketRequests::handle(const http::RequestHead& head, std::string_view id, base::ByteBuilder& body,
                            http::Response& response, http::Deferrer& deferrer) {
  if (refuse_access(head, response)) return;
  switch (head.method) {
    case http::Method::kGet:
    case http::Method::kHead:
      get(head, id, response);
      return;
    case http::Method::kPut:
      put(head, id, body, response, deferrer);
      return;
    case http::Method::kDelete:
      erase(head, id, response, deferrer);
      return;
    default:
      response = http::Response::error(405);
      return;
  }
}

void BucketRequests::set_validators(const store::ObjectMeta& meta, http::Response& response) {
  response.etag = std::string_view(etag_text_, http::kEtagBytes);
  // Formatted again only for another second: a popular object's GETs reuse the text.
  if (meta.modified != date_second_ || date_length_ == 0) {
    date_length_ = http::format_http_date(meta.modified, date_text_).size();
    date_second_ = meta.modified;
  }
  response.last_modified = std::string_view(date_text_, date_length_);
}

void BucketRequests::get(const http::RequestHead& head, std::string_view id, http::Response& response) {
  if (!store_.get(id, lookup_)) {
    response = http::Response::error(404);
    return;
  }
  const store::ObjectMeta& meta = lookup_.meta;
  const http::Validators current = validators_of(meta, etag_text_);
  const http::Precondition precondition =
      has_preconditions(head) ? http::evaluate_preconditions(head, current) : http::Precondition::kProceed;
  switch (precondition) {
    case http::Precondition::kProceed:
      break;
    case http::Precondition::kNotModified:
      response.status = 304;
      set_validators(meta, response);
      return;
    case http::Precondition::kFailed:
      response = http::Response::error(412);
      return;
    case http::Precondition::kMalformed:
      response = http::Response::error(400);
      return;
  }
  std::string_view bytes = lookup_.value;
  if (head.method == http::Method::kGet) {
    std::string_view range;
    std::string_view if_range;
    if (single_field(head, "range", range) && !range.empty() && single_field(head, "if-range", if_range)) {
      const http::RangeDecision decision = http::decide_range(range, if_range, meta.size, current);
      if (decision.kind == http::RangeKind::kUnsatisfiable) {
        response = http::Response::error(416);
        response.content_range = http::format_content_range(decision, meta.size, range_text_);
        return;
      }
      if (decision.kind == http::RangeKind::kSatisfiable) {
        response.status = 206;
        response.content_range = http::format_content_range(decision, meta.size, range_text_);
        bytes = bytes.substr(decision.range.first, decision.range.last - decision.range.first + 1);
      }
    }
  }
  response.content_type = lookup_.content_type.empty() ? http::kOctetStreamContentType : lookup_.content_type;
  response.body = bytes;
  response.body_owner = std::move(lookup_.owner);
  response.accept_ranges = true;
  set_validators(meta, response);
}

void BucketRequests::put(const http::RequestHead& head, std::string_view id, base::ByteBuilder& body,
                         http::Response& response, http::Deferrer& deferrer) {
  bool valid = true;
  const std::string_view content_type = content_type_of(head, valid);
  if (!valid) {
    response = http::Response::error(400);
    return;
  }
  const StoreCondition condition(head, /*ignore_when_absent=*/false);
  const bool conditional = has_preconditions(head);
  // The body's bytes become the stored value: its charge moves from the in-flight budget to the store.
  const auto modified = static_cast<std::int64_t>(std::time(nullptr));
  store::PutOutcome outcome;
  if (durable_ != nullptr) {
    if (durable_->put(id, std::move(body), content_type, modified, conditional ? &condition : nullptr, *loop_,
                      deferrer, outcome, response)) {
      return;
    }
  } else {
    outcome = store_.put(id, std::move(body), content_type, modified, conditional ? &condition : nullptr);
  }
  switch (outcome.result) {
    case store::PutResult::kCreated:
    case store::PutResult::kReplaced:
      (void)http::format_etag(outcome.meta.etag, etag_text_);
      set_validators(outcome.meta, response);
      return;
    case store::PutResult::kCapacityExceeded:
      response = http::Response::error(507);
      refusals_.count(RefusalReason::kStorageFull);
      return;
    case store::PutResult::kPreconditionFailed:
      response = http::Response::error(condition.refusal_status());
      return;
    case store::PutResult::kJournalRefused:  // answered by DurableWrites
      if (response.status == 507) refusals_.count(RefusalReason::kStorageFull);
      return;
  }
}

void BucketRequests::erase(const http::RequestHead& head, std::string_view id, http::Response& response,
                           http::Deferrer& deferrer) {
  // Without the id the unconditional answer is 400, so its preconditions do not apply (RFC 9110 13.2.1).
  const StoreCondition condition(head, /*ignore_when_absent=*/true);
  const store::Condition* conditions = has_preconditions(head) ? &condition : nullptr;
  store::EraseResult result;
  if (durable_ != nullptr) {
    if (durable_->erase(id, conditions, *loop_, deferrer, result, response)) return;
  } else {
    result = store_.erase(id, conditions);
  }
  switch (result) {
    case store::EraseResult::kErased:
      return;
    case store::EraseResult::kNotFound:
      // The old service answered 400 for an unknown id; clients depend on it.
      response = http::Response::error(400);
      return;
    case store::EraseResult::kPreconditionFailed:
      response = http::Response::error(condition.refusal_status());
      return;
    case store::EraseResult::kJournalRefused:  // answered by DurableWrites
      return;
  }
}

}  // namespace app
