// HTTP hot path: the request-head parser (one-shot and incremental), and whole requests through http::Connection without sockets
// (bytes in, response bytes out), first with a trivial handler, then with the service's own handler.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstring>
#include <string>
#include <string_view>

#include "alloc_counter.h"
#include "app/log.h"
#include "app/request_metrics.h"
#include "app/storage_service.h"
#include "http/connection.h"
#include "http/request_parser.h"
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

// Answers every request with the same 16 bytes: what remains is the connection's own work.
class FixedAnswerHandler final : public http::Handler {
 public:
  void on_request_begin(const http::RequestHead&) override {}
  bool precheck(const http::RequestHead&, http::Response&) override { return true; }
  void handle(const http::RequestHead&, std::string&, http::Response& response) override {
    response.content_type = http::kOctetStreamContentType;
    response.body = "0123456789abcdef";
  }
  void on_request_end() override {}
  void on_response(const http::RequestHead*, int, std::chrono::nanoseconds) override {}
};

// One request per iteration through a keep-alive connection, as the event loop drives it: the request's
// bytes arrive in input(), process() runs, the response is taken from output(). Reports allocations per
// request and the response size.
void drive_requests(benchmark::State& state, http::Connection& connection, std::string_view request,
                    std::string_view expected_status_line) {
  const auto now = http::Connection::Clock::now();
  std::size_t response_bytes = 0;
  // One warm-up request sizes the buffers, so the loop measures the steady state.
  connection.input().append(request);
  connection.process(now);
  if (!connection.output().readable().starts_with(expected_status_line)) {
    state.SkipWithError("unexpected response");
    return;
  }
  connection.output().consume(connection.output().size());

  const std::uint64_t allocations_before = bench::allocations();
  for (auto _ : state) {
    connection.input().append(request);
    connection.process(now);
    response_bytes = connection.output().size();
    benchmark::DoNotOptimize(connection.output().readable().data());
    connection.output().consume(response_bytes);
  }
  const std::uint64_t allocations = bench::allocations() - allocations_before;
  state.counters["allocs_per_req"] =
      benchmark::Counter(static_cast<double>(allocations), benchmark::Counter::kAvgIterations);
  state.counters["response_bytes"] = static_cast<double>(response_bytes);
  if (connection.should_close()) state.SkipWithError("the connection closed");
}

void BM_ConnectionGetFixedAnswer(benchmark::State& state) {
  const http::ConnectionLimits limits;
  FixedAnswerHandler handler;
  http::DateCache dates;
  http::Connection connection(limits, handler, dates);
  drive_requests(state, connection, kWrkGet, "HTTP/1.1 200 OK\r\n");
}
BENCHMARK(BM_ConnectionGetFixedAnswer)->Name("connection/get_fixed_answer");

// The service as main() wires it, minus sockets: router, store, metrics, the /metrics registry.
class ServiceFixture {
 public:
  ServiceFixture()
      : store_(1u << 30, base::HashKey{1, 2}),
        request_metrics_(metrics::default_duration_buckets(), 1),
        log_(app::LogLevel::kError),
        context_{store_, request_metrics_, registry_, shutting_down_, log_, false},
        service_(context_, 0),
        connection_(limits_, service_, dates_) {
    registry_.add(request_metrics_);
    store_.put("bench16", std::string("0123456789abcdef"));
  }
  http::Connection& connection() noexcept { return connection_; }

 private:
  store::BucketStore store_;
  app::RequestMetrics request_metrics_;
  metrics::Registry registry_;
  std::atomic<bool> shutting_down_{false};
  app::Logger log_;
  app::ServiceContext context_;
  app::StorageService service_;
  http::ConnectionLimits limits_;
  http::DateCache dates_;
  http::Connection connection_;
};

void BM_ConnectionGetBucket(benchmark::State& state) {
  ServiceFixture service;
  drive_requests(state, service.connection(), kWrkGet, "HTTP/1.1 200 OK\r\n");
}
BENCHMARK(BM_ConnectionGetBucket)->Name("connection/get_16B_bucket_service");

void BM_ConnectionPutBucket(benchmark::State& state) {
  ServiceFixture service;
  std::string request = "PUT /api/buckets/put1k HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: 1024\r\n\r\n";
  request.append(1024, 'x');
  drive_requests(state, service.connection(), request, "HTTP/1.1 200 OK\r\n");
}
BENCHMARK(BM_ConnectionPutBucket)->Name("connection/put_1KiB_bucket_service");

}  // namespace
