#include "app/storage_service.h"

#include <chrono>

#include "metrics/exposition.h"

namespace app {

namespace {

constexpr std::string_view kHealthyBody = R"({"status": "ok"})";
constexpr std::string_view kReadyBody = R"({"status": "ready"})";
constexpr std::string_view kDrainingBody = R"({"status": "shutting down"})";
constexpr std::size_t kLoggedTargetBytes = 256;

http::Response json(int status, std::string_view body) {
  http::Response response;
  response.status = status;
  response.content_type = http::kJsonContentType;
  response.body = body;
  return response;
}

}  // namespace

StorageService::StorageService(const ServiceContext& context, std::size_t shard)
    : context_(context), shard_(shard) {
  id_buffer_.reserve(http::kMaxIdBytes);
}

void StorageService::on_request_begin(const http::RequestHead&) { context_.request_metrics.request_started(shard_); }

void StorageService::on_request_end() { context_.request_metrics.request_ended(shard_); }

bool StorageService::refuse_by_route(const http::RequestHead& head, const http::RouteMatch& match,
                                     http::Response& response) {
  if (match.route == http::Route::kUnmatched) {
    response = http::Response::error(404);
    return true;
  }
  if (!http::route_allows(match.route, head.method)) {
    response = http::Response::error(405);
    response.allow = http::route_allow_header(match.route);
    return true;
  }
  if (match.route == http::Route::kBucket && match.bad_id) {
    response = http::Response::error(400);
    return true;
  }
  return false;
}

bool StorageService::precheck(const http::RequestHead& head, http::Response& refusal) {
  // Without a body, handle() follows at once and answers any routing error itself: routing here would only
  // decode the id twice on the hot path.
  if (!head.has_body()) return true;
  const http::RouteMatch match = http::match_route(head.path, id_buffer_);
  // When the client waits for 100 Continue, a routing error is answered instead. With a body already on its
  // way it is answered after the body, which keeps the connection usable.
  if (head.expect_continue && refuse_by_route(head, match, refusal)) return false;

  if (head.method == http::Method::kPut && match.route == http::Route::kBucket && !match.bad_id &&
      head.has_content_length &&
      !context_.store.would_fit(match.id, static_cast<std::size_t>(head.content_length))) {
    // A bucket, new or replaced, that cannot fit: refuse before receiving bytes that would be thrown away.
    refusal = http::Response::error(507);
    return false;
  }
  return true;
}

void StorageService::handle(const http::RequestHead& head, std::string& body, http::Response& response) {
  const http::RouteMatch match = http::match_route(head.path, id_buffer_);
  if (refuse_by_route(head, match, response)) return;
  switch (match.route) {
    case http::Route::kBucket:
      handle_bucket(head, match, body, response);
      return;
    case http::Route::kMetrics:
      metrics_buffer_.clear();
      context_.registry.render(metrics_buffer_);
      response.content_type = metrics::kExpositionContentType;
      response.body = metrics_buffer_;
      return;
    case http::Route::kHealthz:
      response = json(200, kHealthyBody);
      return;
    case http::Route::kReadyz:
      response = context_.shutting_down.load(std::memory_order_relaxed) ? json(503, kDrainingBody)
                                                                          : json(200, kReadyBody);
      return;
    case http::Route::kUnmatched:
      break;
  }
  response = http::Response::error(404);
}

void StorageService::handle_bucket(const http::RequestHead& head, const http::RouteMatch& match, std::string& body,
                                   http::Response& response) {
  switch (head.method) {
    case http::Method::kGet:
    case http::Method::kHead: {
      base::SharedBytes value = context_.store.get(match.id);
      if (!value) {
        response = http::Response::error(404);
        return;
      }
      response.content_type = http::kOctetStreamContentType;
      response.body = value.view();
      response.body_owner = std::move(value);
      return;
    }
    case http::Method::kPut:
      // Copied until the connection hands the body over as a base::ByteBuilder, stored without a copy.
      if (context_.store.put(match.id, std::string_view(body)) == store::BucketStore::PutResult::kCapacityExceeded) {
        response = http::Response::error(507);
      }
      return;
    case http::Method::kDelete:
      // The old service answered 400 for an unknown id; clients depend on it.
      if (!context_.store.erase(match.id)) response = http::Response::error(400);
      return;
    default:
      response = http::Response::error(405);
      response.allow = http::route_allow_header(http::Route::kBucket);
      return;
  }
}

void StorageService::on_response(const http::RequestHead* head, int status, std::chrono::nanoseconds elapsed) {
  const std::size_t path = head ? static_cast<std::size_t>(http::classify_route(head->path))
                                : RequestMetrics::kUnparsedPath;
  const http::Method method = head ? head->method : http::Method::kUnknown;
  const double seconds = std::chrono::duration<double>(elapsed).count();
  context_.request_metrics.observe(shard_, method, path, status, seconds);

  if (context_.access_log && context_.log.enabled(LogLevel::kInfo)) {
    const std::string_view target = head ? head->target.substr(0, kLoggedTargetBytes) : std::string_view();
    context_.log.info("request", {{"method", head ? head->method_token : std::string_view("-")},
                                  {"target", target},
                                  {"route", RequestMetrics::path_label(path)},
                                  {"status", static_cast<std::int64_t>(status)},
                                  {"duration_seconds", seconds}});
  }
}

}  // namespace app
