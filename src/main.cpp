// storage_api: configuration and wiring only; the behaviour lives in the modules under src/.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/config.h"
#include "app/healthcheck.h"
#include "app/host_limits.h"
#include "app/log.h"
#include "app/request_metrics.h"
#include "app/storage_service.h"
#include "base/siphash.h"
#include "metrics/histogram.h"
#include "metrics/process_metrics.h"
#include "metrics/registry.h"
#include "net/listener.h"
#include "net/server.h"
#include "store/bucket_store.h"

namespace {

std::optional<std::string> lookup_env(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

net::ServerOptions server_options(const app::Config& config, const net::SocketAddress& address, unsigned threads) {
  net::ServerOptions options;
  options.address = address;
  options.threads = threads;
  options.max_connections = config.max_connections.value_or(10000);
  options.limits.parser.max_request_line = config.max_request_line;
  options.limits.parser.max_head_bytes = config.max_header_bytes;
  options.limits.max_body_bytes = config.max_body_bytes.value_or(std::size_t{64} << 20);
  options.header_timeout = std::chrono::milliseconds(config.header_timeout_ms);
  options.body_timeout = std::chrono::milliseconds(config.body_timeout_ms);
  options.idle_timeout = std::chrono::milliseconds(config.idle_timeout_ms);
  options.write_timeout = std::chrono::milliseconds(config.write_timeout_ms);
  return options;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  const app::ConfigResult parsed = app::parse_config(args, lookup_env);
  switch (parsed.mode) {
    case app::Mode::kHelp:
      std::fputs(app::usage_text().c_str(), stdout);
      return 0;
    case app::Mode::kError:
      std::fprintf(stderr, "storage_api: %s\n", parsed.error.c_str());
      return 2;
    case app::Mode::kHealthcheck:
      return app::run_healthcheck(parsed.config);
    case app::Mode::kServe:
      break;
  }
  const app::Config& config = parsed.config;
  const app::Logger log(config.log_level);

  const auto address = net::parse_address(config.host, config.port);
  if (!address) {
    std::fprintf(stderr, "storage_api: invalid HOST / --host \"%s\"\n", config.host.c_str());
    return 2;
  }
  const unsigned threads = config.threads != 0 ? config.threads : app::usable_cpus();

  // Blocked before any thread starts, so every thread inherits the mask and only the server's signalfd
  // sees them.
  sigset_t shutdown_signals;
  sigemptyset(&shutdown_signals);
  sigaddset(&shutdown_signals, SIGTERM);
  sigaddset(&shutdown_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &shutdown_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // What the log reports as effective: defaults resolved to the values actually in use.
  app::Config effective = config;
  effective.threads = threads;
  if (effective.histogram_buckets.empty()) effective.histogram_buckets = metrics::default_duration_buckets();

  // Drawn once per process: which ids share a shard or a chain is then unknown to every client.
  const base::Result<base::HashKey> hash_key = base::HashKey::random();
  if (!hash_key) {
    log.error("start_failed", {{"error", hash_key.status().message()}});
    return 1;
  }
  store::BucketStore store(config.max_storage_bytes.value_or(std::size_t{256} << 20), *hash_key);
  app::RequestMetrics request_metrics(effective.histogram_buckets, threads);
  std::atomic<bool> shutting_down{false};
  metrics::Registry registry;
  const app::ServiceContext context{store, request_metrics, registry, shutting_down, log, config.access_log};

  net::ServerOptions options = server_options(config, *address, threads);
  options.signal_shutdown = net::SignalShutdown{
      shutdown_signals, std::chrono::milliseconds(config.shutdown_delay_ms),
      std::chrono::milliseconds(config.shutdown_grace_ms), [&shutting_down, &log, &config](int signal_number) {
        // From here /readyz fails, so load balancers stop sending during the delay.
        shutting_down.store(true, std::memory_order_relaxed);
        log.info("shutdown_started", {{"signal", static_cast<std::int64_t>(signal_number)},
                                      {"delay_ms", static_cast<std::uint64_t>(config.shutdown_delay_ms)},
                                      {"grace_ms", static_cast<std::uint64_t>(config.shutdown_grace_ms)}});
      }};
  net::Server server(
      std::move(options),
      [&context](unsigned loop_index) { return std::make_unique<app::StorageService>(context, loop_index); },
      [&log](std::string_view event, int error_number) {
        log.warn(event, {{"errno", static_cast<std::int64_t>(error_number)}});
      });

  metrics::CallbackGauge connections_open("http_connections_open", "Client connections currently open.",
                                          [&server] { return static_cast<double>(server.open_connections()); });
  metrics::CallbackGauge connections_rejected(
      "http_connections_rejected_total",
      "Connections closed at accept because of the connection limit or a lack of file descriptors.",
      [&server] { return static_cast<double>(server.rejected_connections()); }, metrics::MetricType::kCounter);
  metrics::CallbackGauge buckets("storage_api_buckets", "Buckets currently stored.",
                                 [&store] { return static_cast<double>(store.bucket_count()); });
  metrics::CallbackGauge stored_bytes(
      "storage_api_stored_bytes",
      "Bytes charged to the storage cap: each stored bucket's id, value and a fixed per-bucket overhead, "
      "plus replaced or deleted values still being sent to a client.",
      [&store] { return static_cast<double>(store.stored_bytes()); });
  metrics::CallbackGauge capacity("storage_api_storage_capacity_bytes",
                                  "Configured cap on stored bytes; puts beyond it are answered 507.",
                                  [&store] { return static_cast<double>(store.max_bytes()); });
  metrics::CallbackGauge log_lines_dropped(
      "storage_api_log_lines_dropped_total",
      "Log lines dropped because stderr could not keep up (queue full) or failed.",
      [&log] { return static_cast<double>(log.dropped_lines()); }, metrics::MetricType::kCounter);
  metrics::InfoGauge build_info("storage_api_build_info", "Build information; the value is always 1.",
                                {{"version", STORAGE_API_VERSION}});
  metrics::ProcessCollector process;
  registry.add(request_metrics);
  registry.add(connections_open);
  registry.add(connections_rejected);
  registry.add(buckets);
  registry.add(stored_bytes);
  registry.add(capacity);
  registry.add(log_lines_dropped);
  registry.add(build_info);
  registry.add(process);

  if (const base::Status started = server.start(); !started) {
    log.error("start_failed", {{"error", started.message()}});
    return 1;
  }
  if (log.enabled(app::LogLevel::kInfo)) {
    const std::string effective_json = app::config_to_json(effective);
    log.info("listening", {{"host", config.host},
                           {"port", static_cast<std::uint64_t>(server.port())},
                           {"threads", static_cast<std::uint64_t>(threads)},
                           {"version", STORAGE_API_VERSION},
                           {"config", effective_json, true}});
  }

  server.run();
  log.info("shutdown_complete", {{"open_connections", static_cast<std::uint64_t>(server.open_connections())}});
  return 0;
}
