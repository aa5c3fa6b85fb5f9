#pragma once
// StorageService: the HTTP handler of storage_api, joining the router, the bucket store and the metrics.
//
// Routes: PUT/GET/HEAD/DELETE /api/buckets/{id}, GET /metrics, GET /healthz, GET /readyz (503 once the
// process is shutting down). One instance per event-loop thread (its metric shard and scratch buffers);
// everything in ServiceContext is shared and thread-safe.
#include <atomic>
#include <cstddef>
#include <string>

#include "app/log.h"
#include "app/request_metrics.h"
#include "http/handler.h"
#include "http/router.h"
#include "metrics/registry.h"
#include "store/bucket_store.h"

namespace app {

struct ServiceContext {
  store::BucketStore& store;
  RequestMetrics& request_metrics;
  const metrics::Registry& registry;
  const std::atomic<bool>& shutting_down;
  const Logger& log;
  bool access_log = false;
};

class StorageService final : public http::Handler {
 public:
  StorageService(const ServiceContext& context, std::size_t shard);

  void on_request_begin(const http::RequestHead& head) override;
  bool precheck(const http::RequestHead& head, http::Response& refusal) override;
  void handle(const http::RequestHead& head, std::string& body, http::Response& response) override;
  void on_request_end() override;
  void on_response(const http::RequestHead* head, int status, std::chrono::nanoseconds elapsed) override;

 private:
  // A routing refusal (404, 405, 400 for a bad id), or false when the route serves this request.
  static bool refuse_by_route(const http::RequestHead& head, const http::RouteMatch& match, http::Response& response);
  void handle_bucket(const http::RequestHead& head, const http::RouteMatch& match, std::string& body,
                     http::Response& response);

  const ServiceContext& context_;
  std::size_t shard_;
  // Scratch for one call at a time: this handler serves every connection of its loop, and a request's body
  // may arrive between its precheck() and handle() while other connections' requests are handled, so no
  // per-request state may live here between calls.
  std::string id_buffer_;
  std::string metrics_buffer_;
};

}  // namespace app
