#include "app/bucket_requests.h"

#include <cstdint>
#include <cstring>
#include <ctime>

#include "http/field_name.h"
#include "http/media_type.h"

namespace app {
namespace {

constexpr std::string_view kBearerChallenge = R"(Bearer realm="storage_api")";
constexpr std::string_view kBearerInvalidToken = R"(Bearer realm="storage_api", error="invalid_token")";

// A field that must appear at most once: how many lines it has and which is the last. An index rather
// than a view keeps ObjectFields small enough to be cleared by a few stores (a larger one was cleared by
// rep stos, slow to start, on every request).
struct SingleField {
  std::uint16_t lines = 0;
  std::uint16_t last = 0;  // index into RequestHead::headers

  void add(std::size_t index) noexcept {
    ++lines;
    last = static_cast<std::uint16_t>(index);
  }
  // The value (empty when absent); false, with `out` empty, when the field appears more often (the request
  // is then treated as if it carried none: a Range sent twice is ambiguous, so it is ignored).
  bool get(const http::RequestHead& head, std::string_view& out) const noexcept {
    out = lines == 1 ? head.headers[last].value : std::string_view();
    return lines <= 1;
  }
};
static_assert(http::kMaxHeaders <= UINT16_MAX);

// The fields a bucket request's answer depends on, found in one pass over its field lines: most requests
// carry none of them, and one scan of the fields per name cost more than the look-up they guard.
struct ObjectFields {
  // Lines of If-Match, If-None-Match, If-Modified-Since and If-Unmodified-Since.
  std::uint16_t precondition_lines = 0;
  SingleField if_none_match;
  SingleField range;
  SingleField if_range;
  SingleField content_type;
};

ObjectFields object_fields(const http::RequestHead& head) noexcept {
  ObjectFields fields;
  for (std::size_t i = 0; i < head.header_count; ++i) {
    const http::Header& field = head.headers[i];
    // Most fields are passed over on their length alone.
    switch (field.name.size()) {
      case 5:
        if (http::field_name_is(field.name, "range")) fields.range.add(i);
        break;
      case 8:
        if (http::field_name_is(field.name, "if-match")) {
          ++fields.precondition_lines;
        } else if (http::field_name_is(field.name, "if-range")) {
          fields.if_range.add(i);
        }
        break;
      case 12:
        if (http::field_name_is(field.name, "content-type")) fields.content_type.add(i);
        break;
      case 13:
        if (http::field_name_is(field.name, "if-none-match")) {
          ++fields.precondition_lines;
          fields.if_none_match.add(i);
        }
        break;
      case 17:
        if (http::field_name_is(field.name, "if-modified-since")) ++fields.precondition_lines;
        break;
      case 19:
        if (http::field_name_is(field.name, "if-unmodified-since")) ++fields.precondition_lines;
        break;
      default:
        break;
    }
  }
  return fields;
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

std::string_view content_type_of(const http::RequestHead& head, const ObjectFields& fields, bool& valid) noexcept {
  std::string_view value;
  valid = fields.content_type.get(head, value) && (value.empty() || http::is_valid_media_type(value));
  // An empty field is no content type; a field sent twice is refused rather than guessed at.
  return value;
}

}  // namespace

bool BucketRequests::refuse_misdirected(const http::RequestHead& head, http::Response& response) const {
  if (shard_name_.empty()) return false;
  const std::string_view meant_for = head.header("x-storage-shard");
  if (meant_for.empty() || meant_for == shard_name_) return false;
  response = http::Response::error(421);
  refusals_.count(RefusalReason::kMisdirected);
  return true;
}

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
  if (refuse_misdirected(head, refusal) || refuse_access(head, refusal)) return false;
  if (head.method == http::Method::kPut) {
    bool valid = true;
    (void)content_type_of(head, object_fields(head), valid);
    if (!valid) {
      refusal = http::Response::error(400);
      return false;
    }
  }
  return true;
}

void BucketRequests::handle(const http::RequestHead& head, std::string_view id, base::ByteBuilder& body,
                            http::Response& response, http::Deferrer& deferrer) {
  if (refuse_misdirected(head, response) || refuse_access(head, response)) return;
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
  const ObjectFields fields = object_fields(head);
  http::Precondition precondition = http::Precondition::kProceed;
  if (fields.precondition_lines != 0) {
    // A cache revalidating what it was sent: its one precondition is an If-None-Match of exactly the
    // current tag, which RFC 9110 13.2.2 answers 304 whatever else it looks at; spared the evaluation.
    std::string_view if_none_match;
    // Compared over the tag's fixed length, in place rather than by a call.
    const bool revalidation = fields.precondition_lines == 1 && fields.if_none_match.get(head, if_none_match) &&
                              if_none_match.size() == http::kEtagBytes && current.etag.size() == http::kEtagBytes &&
                              std::memcmp(if_none_match.data(), current.etag.data(), http::kEtagBytes) == 0;
    precondition = revalidation ? http::Precondition::kNotModified : http::evaluate_preconditions(head, current);
  }
  switch (precondition) {
    case http::Precondition::kProceed:
      break;
    case http::Precondition::kNotModified:
      // The ETag only (and Date): RFC 9110 15.4.5 asks a 304 for no other metadata unless it guides a
      // cache, and Last-Modified does that only for a representation without an ETag.
      response.status = 304;
      response.etag = current.etag;
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
    if (fields.range.get(head, range) && !range.empty() && fields.if_range.get(head, if_range)) {
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
  // A small value was copied and has no owner; moving nothing over nothing would still cost a call.
  if (lookup_.owner || response.body_owner) response.body_owner = std::move(lookup_.owner);
  response.accept_ranges = true;
  set_validators(meta, response);
}

void BucketRequests::put(const http::RequestHead& head, std::string_view id, base::ByteBuilder& body,
                         http::Response& response, http::Deferrer& deferrer) {
  const ObjectFields fields = object_fields(head);
  bool valid = true;
  const std::string_view content_type = content_type_of(head, fields, valid);
  if (!valid) {
    response = http::Response::error(400);
    return;
  }
  const StoreCondition condition(head, /*ignore_when_absent=*/false);
  const bool conditional = fields.precondition_lines != 0;
  // The body's bytes become the stored value: its charge moves from the in-flight budget to the store.
  const auto modified = static_cast<std::int64_t>(std::time(nullptr));
  store::PutOutcome outcome;
  if (durable_ != nullptr) {
    if (durable_->put(id, std::move(body), content_type, modified, conditional ? &condition : nullptr, loop_writes_,
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
  const store::Condition* conditions = object_fields(head).precondition_lines != 0 ? &condition : nullptr;
  store::EraseResult result;
  if (durable_ != nullptr) {
    if (durable_->erase(id, conditions, loop_writes_, deferrer, result, response)) return;
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
