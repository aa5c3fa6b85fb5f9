// HTTP hot path: the request-head parser (one-shot and incremental), and whole requests through
// http::Connection without sockets, driven as the server's connection I/O drives it (the request's bytes reported, advance(), the response
// gathered into iovecs and reported written, advance() again): first with a trivial handler, so what
// remains is the connection's own work, then with the service's own handler.
#include <benchmark/benchmark.h>

#include <sys/uio.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "alloc_counter.h"
#include "app/access_tokens.h"
#include "app/log.h"
#include "app/refusal_metrics.h"
#include "app/request_metrics.h"
#include "app/storage_service.h"
#include "base/memory_account.h"
#include "base/shared_bytes.h"
#include "http/connection.h"
#include "http/request_parser.h"
#include "http/validators.h"
#include "metrics/histogram.h"
#include "metrics/registry.h"
#include "store/bucket_store.h"

namespace {

// What wrk sends: the smallest valid HTTP/1.1 request.
constexpr std::string_view kWrkGet = "GET /api/buckets/bench16 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

// A typical programmatic client (curl, Go, requests): a handful of headers, about 250 bytes.
constexpr std::string_view kTypicalGet =
    "GET /api/buckets/user%2F42%2Favatar?version=3 HTTP/1.1\r\n"
    "Host: storage-api.default.svc.cluster.local:5000\r\n"
    "User-Agent: Go-http-client/1.1\r\n"
    "Accept: */*\r\n"
    "Accept-Encoding: gzip\r\n"
    "Traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
    "X-Request-Id: 9f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b\r\n"
    "Connection: keep-alive\r\n"
    "\r\n";

std::string_view head_for(std::int64_t which) { return which == 0 ? kWrkGet : kTypicalGet; }
const char* head_label(std::int64_t which) { return which == 0 ? "wrk" : "typical"; }

// Reference: the least any parser must do, finding each line end, over the same bytes.
void BM_MemchrLines(benchmark::State& state) {
  const std::string_view head = head_for(state.range(0));
  for (auto _ : state) {
    std::size_t lines = 0;
    const char* at = head.data();
    const char* const end = head.data() + head.size();
    while (const void* found = std::memchr(at, '\n', static_cast<std::size_t>(end - at))) {
      ++lines;
      at = static_cast<const char*>(found) + 1;
    }
    benchmark::DoNotOptimize(lines);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * head.size()));
  state.SetLabel(head_label(state.range(0)));
}
BENCHMARK(BM_MemchrLines)->Name("parse/memchr_reference")->Arg(0)->Arg(1);

void BM_ParseRequestHead(benchmark::State& state) {
  const std::string_view head = head_for(state.range(0));
  const http::ParserLimits limits;
  http::RequestHead parsed;
  for (auto _ : state) {
    benchmark::DoNotOptimize(head.data());
    const http::ParseResult result = http::parse_request_head(head, limits, parsed);
    if (result.status != http::ParseStatus::kComplete) state.SkipWithError("the head did not parse");
    benchmark::DoNotOptimize(parsed);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * head.size()));
  state.SetLabel(head_label(state.range(0)));
}
BENCHMARK(BM_ParseRequestHead)->Name("parse/parse_request_head")->Arg(0)->Arg(1);

// The connection's way: one RequestHeadParser, reset between heads, fed the head in one piece.
void BM_RequestHeadParser(benchmark::State& state) {
  const std::string_view head = head_for(state.range(0));
  const http::ParserLimits limits;
  http::RequestHeadParser parser(limits);
  http::RequestHead parsed;
  for (auto _ : state) {
    benchmark::DoNotOptimize(head.data());
    parser.reset();
    const http::ParseResult result = parser.parse(head, parsed);
    if (result.status != http::ParseStatus::kComplete) state.SkipWithError("the head did not parse");
    benchmark::DoNotOptimize(parsed);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * head.size()));
  state.SetLabel(head_label(state.range(0)));
}
BENCHMARK(BM_RequestHeadParser)->Name("parse/request_head_parser")->Arg(0)->Arg(1);

using Clock = http::Connection::Clock;

constexpr std::size_t kLargeValueBytes = 1u << 20;
constexpr std::string_view kLargeGet = "GET /api/buckets/bench1m HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n";

std::string put_1k_request() {
  std::string request = "PUT /api/buckets/put1k HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 1024\r\n\r\n";
  request.append(1024, 'x');
  return request;
}

// Answers a GET with 16 bytes copied next to the head, or with a shared value sent from its own memory;
// anything else with an empty 200 (a PUT body is dropped). What remains is the connection's own work.
class FixedAnswerHandler final : public http::Handler {
 public:
  explicit FixedAnswerHandler(base::SharedBytes value = {}) : value_(std::move(value)) {}
  std::uint32_t on_request_begin(const http::RequestHead&) override { return 0; }
  bool admit_body(const http::RequestHead&, std::uint64_t, http::Response&) override { return true; }
  void handle(const http::RequestHead& head, base::ByteBuilder&, http::Response& response, http::Deferrer&) override {
    if (head.method != http::Method::kGet) return;
    response.content_type = http::kOctetStreamContentType;
    if (value_) {
      response.body_owner = value_;
      response.body = value_.view();
    } else {
      response.body = "0123456789abcdef";
    }
  }
  void on_request_end() override {}
  void on_response(const http::ResponseRecord&) override {}

 private:
  base::SharedBytes value_;
};

// The budgets a server's connections charge, large enough never to refuse here.
struct Budgets {
  base::MemoryAccount bodies{1u << 30};
  base::MemoryAccount buffers{1u << 30};
  http::ConnectionConfig config() {
    http::ConnectionConfig c;
    c.accounts.bodies = &bodies;
    c.accounts.buffers = &buffers;
    return c;
  }
};

// One keep-alive connection and the socket around it.
class Exchange {
 public:
  // `value`: the stored bytes a response may be sent from; bytes sent from anywhere else were copied.
  explicit Exchange(http::Connection& connection, std::string_view value = {})
      : connection_(connection), value_(value) {}

  // One request in one read, and its whole response written; false unless it was answered and the
  // connection stays open for the next one.
  bool run(std::string_view request) {
    connection_.on_received(request);
    http::Connection::Directive directive = connection_.advance(now_);
    while (directive.write) {
      iovec iov[16];
      const std::size_t count = connection_.gather_output(iov);
      std::size_t bytes = 0;
      for (std::size_t i = 0; i < count; ++i) {
        const auto* base = static_cast<const char*>(iov[i].iov_base);
        if (written == 0 && bytes == 0) first_bytes.assign(base, iov[i].iov_len < 12 ? iov[i].iov_len : 12);
        bytes += iov[i].iov_len;
        const bool from_value = !value_.empty() && base >= value_.data() && base < value_.data() + value_.size();
        (from_value ? sent_from_value : copied) += iov[i].iov_len;
      }
      benchmark::DoNotOptimize(iov[0].iov_base);
      connection_.on_written(bytes);
      written += bytes;
      directive = connection_.advance(now_);
    }
    return directive.action == http::SocketAction::kKeep && directive.read;
  }

  std::uint64_t written = 0;
  std::string first_bytes;            // the start of the first response: "HTTP/1.1 200"
  std::uint64_t copied = 0;           // response bytes that were not the stored value's own
  std::uint64_t sent_from_value = 0;  // response bytes sent straight from the stored value

 private:
  http::Connection& connection_;
  std::string_view value_;
  const Clock::time_point now_ = Clock::now();
};

// One request per iteration, after one warm-up request that sizes the buffers, so the loop measures the
// steady state. Reports allocations (operator new and malloc alike), response bytes, and how many of them
// were copied rather than sent from the stored value, per request. `status_line`, when given, is how the
// answer must start.
void drive_requests(benchmark::State& state, http::Connection& connection, std::string_view request,
                    std::string_view value = {}, std::string_view status_line = {}) {
  Exchange warm_up(connection, value);
  if (!warm_up.run(request) || warm_up.written == 0) {
    state.SkipWithError("the warm-up request was not answered");
    return;
  }
  if (!status_line.empty() && warm_up.first_bytes != status_line) {
    state.SkipWithError("the warm-up request was answered with another status");
    return;
  }
  Exchange exchange(connection, value);
  const std::uint64_t allocations_before = bench::allocations();
  bool open = true;
  for (auto _ : state) open = exchange.run(request) && open;
  const std::uint64_t allocations = bench::allocations() - allocations_before;
  if (!open) state.SkipWithError("the connection closed");
  const auto per_request = [&](std::uint64_t n) {
    return benchmark::Counter(static_cast<double>(n), benchmark::Counter::kAvgIterations);
  };
  state.counters["allocs_per_req"] = per_request(allocations);
  state.counters["response_bytes"] = per_request(exchange.written);
  if (!value.empty()) {
    state.counters["copied_bytes"] = per_request(exchange.copied);
    state.counters["from_store_bytes"] = per_request(exchange.sent_from_value);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(exchange.written));
}

void BM_ConnectionGetFixedAnswer(benchmark::State& state) {
  Budgets budgets;
  const http::ConnectionConfig config = budgets.config();
  FixedAnswerHandler handler;
  http::DateCache dates;
  dates.update(1'700'000'000);
  http::Connection connection(config, handler, dates, Clock::now());
  drive_requests(state, connection, kWrkGet);
}
BENCHMARK(BM_ConnectionGetFixedAnswer)->Name("connection/get_fixed_answer");

// A 1 MiB value answered by reference: the connection copies only the head and sends the value from its
// own memory.
void BM_ConnectionGetLargeShared(benchmark::State& state) {
  Budgets budgets;
  const http::ConnectionConfig config = budgets.config();
  const base::SharedBytes value = base::SharedBytes::copy_of(std::string(kLargeValueBytes, 'v'));
  FixedAnswerHandler handler(value);
  http::DateCache dates;
  dates.update(1'700'000'000);
  http::Connection connection(config, handler, dates, Clock::now());
  drive_requests(state, connection, kLargeGet, value.view());
}
BENCHMARK(BM_ConnectionGetLargeShared)->Name("connection/get_1MiB_shared_fixed_answer");

void BM_ConnectionPutFixedAnswer(benchmark::State& state) {
  Budgets budgets;
  const http::ConnectionConfig config = budgets.config();
  FixedAnswerHandler handler;
  http::DateCache dates;
  dates.update(1'700'000'000);
  http::Connection connection(config, handler, dates, Clock::now());
  drive_requests(state, connection, put_1k_request());
}
BENCHMARK(BM_ConnectionPutFixedAnswer)->Name("connection/put_1KiB_fixed_answer");

// The service as main() wires it, minus sockets: router, store, metrics, the /metrics registry, and
// access tokens loaded with no token file (so every request is allowed, as without the files in main()).
class ServiceFixture {
 public:
  // request_ids: as the server runs it, every request taking or getting an id (on its response, in its
  // record, as its exemplar).
  explicit ServiceFixture(bool request_ids = false)
      : store_(1u << 30, base::HashKey{1, 2}),
        request_metrics_(metrics::default_duration_buckets(), 1),
        log_(app::LogLevel::kError),
        access_(app::AccessTokens::load(std::nullopt, std::nullopt).value()),
        context_{store_, request_metrics_, refusals_, registry_, shutting_down_, log_, false, access_.get()},
        service_(context_, 0),
        config_(budgets_.config()),
        connection_(config_, service_, dates_, Clock::now()) {
    if (request_ids) config_.request_ids = &ids_;
    registry_.add(request_metrics_);
    registry_.add(refusals_);
    store_.put("bench16", std::string("0123456789abcdef"));
    store_.put("bench1m", std::string(kLargeValueBytes, 'v'));
    dates_.update(1'700'000'000);
  }
  http::Connection& connection() noexcept { return connection_; }
  // The stored bytes of the large value `id`, which the store keeps alive.
  std::string_view value(std::string_view id) const {
    store::Lookup out;
    return store_.get(id, out) && out.owner ? out.owner.view() : std::string_view();
  }
  // The quoted ETag of the object `id`.
  std::string etag(std::string_view id) const {
    store::Lookup out;
    char text[http::kEtagBytes];
    return store_.get(id, out, /*with_value=*/false) ? std::string(http::format_etag(out.meta.etag, text)) : std::string();
  }

 private:
  store::BucketStore store_;
  app::RequestMetrics request_metrics_;
  app::RefusalMetrics refusals_;
  metrics::Registry registry_;
  std::atomic<bool> shutting_down_{false};
  app::Logger log_;
  std::unique_ptr<app::AccessTokens> access_;
  app::ServiceContext context_;
  app::StorageService service_;
  Budgets budgets_;
  http::RequestIdGenerator ids_{0x5eed};
  http::ConnectionConfig config_;
  http::DateCache dates_;
  http::Connection connection_;
};

void BM_ConnectionGetBucket(benchmark::State& state) {
  ServiceFixture service;
  drive_requests(state, service.connection(), kWrkGet, {}, "HTTP/1.1 200");
}
BENCHMARK(BM_ConnectionGetBucket)->Name("connection/get_16B_bucket_service");

// With request ids: one generated per request (wrk sends none), or a traceparent continued.
void BM_ConnectionGetBucketRequestIds(benchmark::State& state) {
  ServiceFixture service(true);
  drive_requests(state, service.connection(), kWrkGet, {}, "HTTP/1.1 200");
}
BENCHMARK(BM_ConnectionGetBucketRequestIds)->Name("connection/get_16B_bucket_service_request_id");

// A GET carrying a traceparent, continued (ids on) or merely parsed past (ids off: the reference).
void BM_ConnectionGetBucketTraceparent(benchmark::State& state) {
  ServiceFixture service(state.range(0) != 0);
  const std::string request =
      "GET /api/buckets/bench16 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
      "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n\r\n";
  drive_requests(state, service.connection(), request, {}, "HTTP/1.1 200");
}
BENCHMARK(BM_ConnectionGetBucketTraceparent)
    ->Name("connection/get_16B_bucket_service_traceparent")
    ->ArgName("ids")
    ->Arg(0)
    ->Arg(1);

// The same GET with If-None-Match of the stored ETag, answered 304: no body, but one more field to parse
// and a precondition to evaluate.
void BM_ConnectionGetBucketNotModified(benchmark::State& state) {
  ServiceFixture service;
  const std::string request = "GET /api/buckets/bench16 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nIf-None-Match: " +
                              service.etag("bench16") + "\r\n\r\n";
  drive_requests(state, service.connection(), request, {}, "HTTP/1.1 304");
}
BENCHMARK(BM_ConnectionGetBucketNotModified)->Name("connection/get_16B_bucket_service_304");

// The service still copies a value out of the store for every GET (until the store hands out SharedBytes):
// copied_bytes shows it.
void BM_ConnectionGetLargeBucket(benchmark::State& state) {
  ServiceFixture service;
  drive_requests(state, service.connection(), kLargeGet, service.value("bench1m"));
}
BENCHMARK(BM_ConnectionGetLargeBucket)->Name("connection/get_1MiB_bucket_service");

void BM_ConnectionPutBucket(benchmark::State& state) {
  ServiceFixture service;
  drive_requests(state, service.connection(), put_1k_request());
}
BENCHMARK(BM_ConnectionPutBucket)->Name("connection/put_1KiB_bucket_service");

}  // namespace
