#include "app/storage_service.h"

#include <chrono>

#include "base/text.h"
#include "metrics/exposition.h"
#include "metrics/format.h"

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

// The exposition format the scrape's Accept fields (all of them, as one list) prefer.
metrics::Format scrape_format(const http::RequestHead& head) noexcept {
  metrics::FormatNegotiation negotiation;
  for (std::size_t i = 0; i < head.header_count; ++i) {
    if (base::equals_ignore_case(head.headers[i].name, "accept")) negotiation.consider(head.headers[i].value);
  }
  return negotiation.choose(true);
}

}  // namespace

StorageService::StorageService(const ServiceContext& context, std::size_t shard, RouteSet routes,
                               net::EventLoop* loop)
    : context_(context),
      shard_(shard),
      routes_(routes),
      buckets_(context.store, context.access, context.refusals, context.durable, loop, context.shard_name) {
  id_buffer_.reserve(http::kMaxIdBytes);
}

http::Route StorageService::served(http::Route route) const noexcept {
  if (routes_ == RouteSet::kAll) return route;
  const bool admin_route = route == http::Route::kMetrics || route == http::Route::kHealthz || route == http::Route::kReadyz;
  if (route == http::Route::kUnmatched || admin_route == (routes_ == RouteSet::kAdmin)) return route;
  return http::Route::kUnmatched;
}

std::uint32_t StorageService::on_request_begin(const http::RequestHead& head) {
  context_.request_metrics.request_started(shard_);
  return static_cast<std::uint32_t>(route_of(head.path));
}

void StorageService::on_request_end() { context_.request_metrics.request_ended(shard_); }

bool StorageService::refuse_by_route(const http::RequestHead& head, http::Route route, const http::RouteMatch& match,
                                     http::Response& response) const {
  if (route == http::Route::kUnmatched) {
    response = http::Response::error(404);
    return true;
  }
  if (!http::route_allows(route, head.method)) {
    response = http::Response::error(405);
    response.allow = http::route_allow_header(route);
    return true;
  }
  if (route == http::Route::kBucket && match.bad_id) {
    response = http::Response::error(400);
    return true;
  }
  return false;
}

bool StorageService::admit_body(const http::RequestHead& head, std::uint64_t body_bytes, http::Response& refusal) {
  const http::RouteMatch match = http::match_route(head.path, id_buffer_);
  const http::Route route = served(match.route);
  // When the client waits for 100 Continue, a routing error is answered instead. With a body already on its
  // way it is answered after the body, which keeps the connection usable.
  if (head.expect_continue && refuse_by_route(head, route, match, refusal)) return false;
  if (route != http::Route::kBucket || match.bad_id || !http::route_allows(route, head.method)) return true;
  // Refused before a byte of its body is received: a client without the token, a bad Content-Type.
  if (!buckets_.admit(head, refusal)) return false;
  if (head.method == http::Method::kPut && body_bytes > 0 &&
      !context_.store.would_fit(match.id, static_cast<std::size_t>(body_bytes))) {
    // A bucket, new or replaced, that cannot fit: refuse before receiving bytes that would be thrown away
    // (for a chunked body, before the chunk that would not fit).
    refusal = http::Response::error(507);
    context_.refusals.count(RefusalReason::kStorageFull);
    return false;
  }
  return true;
}

void StorageService::handle(const http::RequestHead& head, base::ByteBuilder& body, http::Response& response,
                            http::Deferrer& deferrer) {
  // match_route() has classified the path: not classified twice.
  const http::RouteMatch match = http::match_route(head.path, id_buffer_);
  const http::Route route = served(match.route);
  if (refuse_by_route(head, route, match, response)) return;
  switch (route) {
    case http::Route::kBucket:
      buckets_.handle(head, match.id, body, response, deferrer);
      return;
    case http::Route::kMetrics: {
      const metrics::Format format = scrape_format(head);
      metrics_buffer_.clear();
      context_.registry.render(metrics_buffer_, format);
      response.content_type = metrics::content_type(format);
      response.body = metrics_buffer_;
      return;
    }
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

void StorageService::on_response(const http::ResponseRecord& record) {
  std::size_t path = RequestMetrics::kUnparsedPath;
  if (record.tag != http::kNoTag) {
    path = record.tag;
  } else if (record.request_line_parsed) {
    path = static_cast<std::size_t>(route_of(record.path));
  }
  const auto now = std::chrono::steady_clock::now();
  const double seconds = std::chrono::duration<double>(now - record.started).count();
  // The request id becomes its bucket's exemplar, so a slow bucket leads to this very log line.
  if (record.request_id != nullptr) {
    context_.request_metrics.observe(shard_, record.method, path, record.status, seconds,
                                     record.request_id->padded(), now);
  } else {
    context_.request_metrics.observe(shard_, record.method, path, record.status, seconds);
  }
  if (record.refusal != http::Refusal::kNone) context_.refusals.count(record.refusal);  // no call for the rest

  if (context_.access_log && context_.log.enabled(LogLevel::kInfo)) {
    const std::string_view method = record.method_token.empty() ? std::string_view("-") : record.method_token;
    context_.log.info("request", {{"method", method},
                                  {"target", record.target.substr(0, kLoggedTargetBytes)},
                                  {"route", RequestMetrics::path_label(path)},
                                  {"status", static_cast<std::int64_t>(record.status)},
                                  {"duration_seconds", seconds},
                                  {"request_id", record.request_id ? record.request_id->text() : std::string_view("-")}});
  }
}

}  // namespace app
