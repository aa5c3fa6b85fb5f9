#pragma once
// StorageService: the HTTP handler of storage_api, joining the router, the bucket store and the metrics.
//
// Routes: PUT/GET/HEAD/DELETE /api/buckets/{id}, GET /metrics, GET /healthz, GET /readyz (503 once the
// process is shutting down). Which of them a listener serves is its RouteSet: everything on a single
// port, or the buckets on the data port and the other three on the admin port (anything else is 404
// there). One instance per listener per event-loop thread (its metric shard and scratch buffers);
// everything in ServiceContext is shared and thread-safe. /metrics answers in the format its Accept fields
// prefer (metrics/format.h); every answered request is observed with its request id as the exemplar and,
// with the access log on, logged with it.
#include <atomic>
#include <cstddef>
#include <string>

#include "app/access_tokens.h"
#include "app/bucket_requests.h"
#include "app/durable_writes.h"
#include "app/log.h"
#include "app/refusal_metrics.h"
#include "app/request_metrics.h"
#include "http/handler.h"
#include "http/router.h"
#include "metrics/registry.h"
#include "store/bucket_store.h"

namespace app {

enum class RouteSet : std::uint8_t { kAll, kData, kAdmin };

struct ServiceContext {
  store::BucketStore& store;
  RequestMetrics& request_metrics;
  RefusalMetrics& refusals;
  const metrics::Registry& registry;
  const std::atomic<bool>& shutting_down;
  const Logger& log;
  bool access_log = false;
  const AccessTokens* access = nullptr;  // null: no token is required
  DurableWrites* durable = nullptr;      // null: no DATA_DIR, writes are answered at once
  std::string_view shard_name = {};      // SHARD_NAME; empty: not part of a cluster
};

class StorageService final : public http::Handler {
 public:
  // `loop` is the event loop this handler serves on: required with context.durable.
  StorageService(const ServiceContext& context, std::size_t shard, RouteSet routes = RouteSet::kAll,
                 net::EventLoop* loop = nullptr);

  std::uint32_t on_request_begin(const http::RequestHead& head) override;
  bool admit_body(const http::RequestHead& head, std::uint64_t body_bytes, http::Response& refusal) override;
  void handle(const http::RequestHead& head, base::ByteBuilder& body, http::Response& response,
              http::Deferrer& deferrer) override;
  void on_request_end() override;
  void on_response(const http::ResponseRecord& record) override;

 private:
  // The route as this listener serves it: a route of the other listener is unmatched here.
  http::Route served(http::Route route) const noexcept;
  http::Route route_of(std::string_view path) const noexcept { return served(http::classify_route(path)); }
  // A routing refusal (404, 405, 400 for a bad id), or false when the route serves this request.
  bool refuse_by_route(const http::RequestHead& head, http::Route route, const http::RouteMatch& match,
                       http::Response& response) const;

  const ServiceContext& context_;
  std::size_t shard_;
  RouteSet routes_;
  BucketRequests buckets_;
  // Scratch for one call at a time: this handler serves every connection of its loop, and a request's body
  // may arrive between its admit_body() and handle() while other connections' requests are handled, so no
  // per-request state may live here between calls.
  std::string id_buffer_;
  std::string metrics_buffer_;
};

}  // namespace app
