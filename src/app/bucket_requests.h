#pragma once
// BucketRequests: the object semantics of /api/buckets/{id}, between the router and the store.
//
//   - access: with a token file configured, PUT and DELETE need a write token, GET and HEAD a read or
//     write token, else 401 with WWW-Authenticate: Bearer (checked before a body is read);
//   - GET/HEAD: the stored bytes with their ETag, Last-Modified, Content-Type (application/octet-stream
//     when the PUT had none) and Accept-Ranges; If-None-Match / If-Modified-Since answer 304, If-Match /
//     If-Unmodified-Since 412, in RFC 9110 13.2.2's order; one byte range answers 206 (a slice of the
//     stored value, never a copy of a large one), an unsatisfiable one 416, several ranges the whole value;
//   - PUT: stores the body with the request's Content-Type (validated, else 400) and answers its ETag;
//     If-Match / If-None-Match / If-Unmodified-Since are checked atomically with the write (412);
//   - DELETE: 200, 400 for an unknown id (the old service's contract), 412 when a precondition fails;
//   - with a shard name (SHARD_NAME), a request whose X-Storage-Shard header names another shard is 421
//     (RFC 9110 15.5.20) before anything else: a router's stale address for a shard that now belongs to
//     another can never read that shard's ids as absent nor write them where they do not belong.
// Preconditions are ignored where the unconditional answer would not be 2xx (a GET of an absent id is 404,
// a DELETE of one 400: RFC 9110 13.2.1). A malformed If-Match / If-None-Match is 400.
//
// One instance per StorageService (per loop thread): the lookup buffer and the header texts below are its
// scratch, valid from handle() until the response is serialised, which the connection does right after.
// Their capacity (the store's inline value limit plus a content type) is a fixed per-thread cost.
#include <cstddef>
#include <string_view>

#include "app/access_tokens.h"
#include "app/durable_writes.h"
#include "app/refusal_metrics.h"
#include "base/shared_bytes.h"
#include "http/handler.h"
#include "http/range.h"
#include "http/request.h"
#include "http/response.h"
#include "http/validators.h"
#include "net/event_loop.h"
#include "store/bucket_store.h"

namespace app {

class BucketRequests {
 public:
  // With `durable` (DATA_DIR), PUT and DELETE are answered once logged, through the handler's deferrer, on
  // `loop` (app/durable_writes.h).
  BucketRequests(store::BucketStore& store, const AccessTokens* access, RefusalMetrics& refusals,
                 DurableWrites* durable = nullptr, net::EventLoop* loop = nullptr,
                 std::string_view shard_name = {}) noexcept
      : store_(store),
        access_(any_token_required(access) ? access : nullptr),
        refusals_(refusals),
        durable_(durable),
        loop_writes_{loop, false},
        shard_name_(shard_name) {}

  // Before the body is read: false with `refusal` filled when the request is certain to be refused (401,
  // a bad Content-Type), so its body is never received.
  bool admit(const http::RequestHead& head, http::Response& refusal) const;
  // `id` is the decoded, valid id.
  void handle(const http::RequestHead& head, std::string_view id, base::ByteBuilder& body, http::Response& response,
              http::Deferrer& deferrer);

 private:
  // A 421 when the request was meant for another shard (or a 401, below); false when it may go on.
  bool refuse_misdirected(const http::RequestHead& head, http::Response& response) const;
  // A 401 when the request lacks the access its method needs; false when it has it.
  bool refuse_access(const http::RequestHead& head, http::Response& response) const;
  void get(const http::RequestHead& head, std::string_view id, http::Response& response);
  void put(const http::RequestHead& head, std::string_view id, base::ByteBuilder& body, http::Response& response,
           http::Deferrer& deferrer);
  void erase(const http::RequestHead& head, std::string_view id, http::Response& response, http::Deferrer& deferrer);
  // Sets ETag (already formatted into etag_text_) and Last-Modified (formatted here) from `meta`.
  void set_validators(const store::ObjectMeta& meta, http::Response& response);

  // Which accesses need a token is fixed when the tokens are loaded (a reload re-reads the same files).
  static bool any_token_required(const AccessTokens* access) noexcept {
    return access != nullptr && (access->required(Access::kRead) || access->required(Access::kWrite));
  }

  store::BucketStore& store_;
  const AccessTokens* access_;  // null when no access needs a token: then no request is checked at all
  RefusalMetrics& refusals_;
  DurableWrites* durable_;
  LoopWrites loop_writes_;
  std::string_view shard_name_;  // empty: no shard name, the header is not looked at
  store::Lookup lookup_;
  char etag_text_[http::kEtagBytes] = {};
  char date_text_[http::kHttpDateBytes] = {};  // Last-Modified of date_second_
  std::int64_t date_second_ = 0;
  std::size_t date_length_ = 0;
  char range_text_[http::kMaxContentRangeBytes] = {};
};

}  // namespace app
