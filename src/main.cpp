// storage_api: configuration and wiring only; the behaviour lives in the modules under src/.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/access_tokens.h"
#include "app/config.h"
#include "app/durable_metrics.h"
#include "app/durable_start.h"
#include "app/durable_writes.h"
#include "app/healthcheck.h"
#include "app/host_limits.h"
#include "app/log.h"
#include "app/memory_metrics.h"
#include "app/memory_plan.h"
#include "app/refusal_metrics.h"
#include "app/snapshotter.h"
#include "app/request_metrics.h"
#include "app/storage_service.h"
#include "base/memory_account.h"
#include "base/shared_bytes.h"
#include "base/siphash.h"
#include "durable/file_ops.h"
#include "durable/record.h"
#include "metrics/histogram.h"
#include "metrics/process_metrics.h"
#include "metrics/registry.h"
#include "net/listener.h"
#include "server/server.h"
#include "store/bucket_store.h"

namespace {

std::optional<std::string> lookup_env(std::string_view name) {
  const char* value = std::getenv(std::string(name).c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

// The buffers a connection keeps between requests (input and output), part of its planned fixed cost.
constexpr std::size_t kKeptBufferBytes = 4096;

server::ServerOptions server_options(const app::Config& config, const app::MemoryPlan& plan,
                                     const net::SocketAddress& address, unsigned threads) {
  server::ServerOptions options;
  options.address = address;
  options.threads = threads;
  options.max_connections = plan.max_connections;
  options.max_connections_per_client = config.max_connections_per_client;
  options.admin_max_connections = config.admin_max_connections;
  options.socket_buffer_bytes = static_cast<int>(config.socket_buffer_bytes);
  // Charged at accept: the connection's state and the kernel buffers of its socket (each doubled by the
  // kernel's own accounting). Its buffers are charged as they grow.
  options.connection_cost_bytes = server::connection_state_bytes() + 4 * config.socket_buffer_bytes;
  http::ConnectionConfig& connection = options.connection;
  connection.limits.parser.max_request_line = config.max_request_line;
  connection.limits.parser.max_head_bytes = config.max_header_bytes;
  connection.limits.max_body_bytes = plan.max_body_bytes;
  connection.limits.keep_buffer_bytes = kKeptBufferBytes;
  connection.timeouts.header = std::chrono::milliseconds(config.header_timeout_ms);
  connection.timeouts.body = std::chrono::milliseconds(config.body_timeout_ms);
  connection.timeouts.idle = std::chrono::milliseconds(config.idle_timeout_ms);
  connection.timeouts.write = std::chrono::milliseconds(config.write_timeout_ms);
  connection.timeouts.body_min_rate = config.body_min_rate;
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

  const auto address = net::parse_address(config.host, config.port);
  if (!address) {
    std::fprintf(stderr, "storage_api: invalid HOST / --host \"%s\"\n", config.host.c_str());
    return 2;
  }
  std::optional<net::SocketAddress> admin_address;
  if (config.admin_port) admin_address = net::parse_address(config.host, *config.admin_port);

  // The memory budget: an explicit setting that cannot fit in the limit stops the start here, with one line,
  // rather than the process being OOM-killed later.
  const app::MemoryPlanConstants constants{server::connection_state_bytes() + 2 * kKeptBufferBytes, 64 * 1024,
                                           base::SharedBytes::header_bytes()};
  const base::Result<app::MemoryPlan> planned = app::plan_memory(config, app::detect_memory_limit(), constants);
  if (!planned) {
    std::fprintf(stderr, "storage_api: %s\n", planned.status().message().c_str());
    return 2;
  }
  const app::MemoryPlan& plan = *planned;
  // The token files are read before anything starts: a missing or bad file stops the start with one line.
  base::Result<std::unique_ptr<app::AccessTokens>> loaded_tokens =
      app::AccessTokens::load(config.read_token_file, config.write_token_file);
  if (!loaded_tokens) {
    std::fprintf(stderr, "storage_api: %s\n", loaded_tokens.status().message().c_str());
    return 2;
  }
  app::AccessTokens& access_tokens = **loaded_tokens;
  const app::Logger log(config.log_level);
  const unsigned threads = config.threads != 0 ? config.threads : app::usable_cpus();

  // Blocked before any thread starts, so every thread inherits the mask and only the server's signalfd
  // sees them. SIGHUP re-reads the token files (and no longer ends the process, with or without them).
  sigset_t shutdown_signals;
  sigemptyset(&shutdown_signals);
  sigaddset(&shutdown_signals, SIGTERM);
  sigaddset(&shutdown_signals, SIGINT);
  sigset_t reload_signals;
  sigemptyset(&reload_signals);
  sigaddset(&reload_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &shutdown_signals, nullptr);
  pthread_sigmask(SIG_BLOCK, &reload_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  // What the log reports as effective: defaults resolved to the values actually in use.
  app::Config effective = config;
  effective.threads = threads;
  effective.max_storage_bytes = plan.storage;
  effective.max_inflight_body_bytes = plan.inflight_bodies;
  effective.max_connection_memory_bytes = plan.connection_memory;
  effective.max_connections = plan.max_connections;
  effective.max_body_bytes = plan.max_body_bytes;
  if (effective.histogram_buckets.empty()) effective.histogram_buckets = metrics::default_duration_buckets();

  // Drawn once per process: which ids share a shard or a chain is then unknown to every client.
  const base::Result<base::HashKey> hash_key = base::HashKey::random();
  if (!hash_key) {
    log.error("start_failed", {{"error", hash_key.status().message()}});
    return 1;
  }
  // Every byte a client can make the process hold is charged to one of these before it is held.
  store::BucketStore store(plan.storage, *hash_key);
  // Large values live in memory files, sent by sendfile from their pages; each holds a descriptor, so the
  // connections (data and admin), the listeners, the log's files and a margin are kept out of the allowance.
  constexpr std::size_t kDescriptorMargin = 256;
  base::ValueFiles value_files(
      config.sendfile_min_bytes == 0
          ? 0
          : app::value_file_allowance(plan.max_connections + config.admin_max_connections + kDescriptorMargin),
      config.sendfile_min_bytes);
  base::ValueFiles* large_values = config.sendfile_min_bytes != 0 ? &value_files : nullptr;
  store.keep_large_values_in(large_values);
  base::MemoryAccount inflight_bodies(plan.inflight_bodies);
  base::MemoryAccount connection_memory(plan.connection_memory);
  base::MemoryAccount admin_memory(plan.admin_memory);

  // With DATA_DIR the log is recovered into the store before anything listens. The log's queue holds
  // references to stored values and copies of small ones, ids and content types (at most one write per
  // connection is in flight), paid from the runtime reserve; its budget bounds the bytes awaiting the disk.
  durable::PosixFileSystem file_system;
  app::DurableMetrics durable_metrics;
  base::MemoryAccount log_queue(std::max<std::size_t>(std::size_t{64} << 20, 2 * plan.max_body_bytes + (1 << 20)));
  std::unique_ptr<app::DurableLog> durable_log;
  if (config.data_dir) {
    app::DurableStartFailure failure;
    durable_log = app::open_durable_log(file_system, config, store, log_queue, plan.max_body_bytes,
                                        &durable_metrics.sync_seconds(), log, failure);
    if (!durable_log) {
      log.error("start_failed", {{"error", failure.message}});
      std::fprintf(stderr, "storage_api: %s\n", failure.message.c_str());
      return failure.exit_status;
    }
    durable_metrics.attach(durable_log->writer.get(), durable_log->recovery, *config.data_dir, &file_system);
  }

  metrics::NativeHistogramOptions native_histogram;
  native_histogram.schema = config.native_histogram_schema;
  native_histogram.zero_threshold = config.native_histogram_zero_threshold;
  native_histogram.bucket_limit = config.native_histogram_bucket_limit;
  app::RequestMetrics request_metrics(effective.histogram_buckets, threads, native_histogram);
  app::RefusalMetrics refusals;
  std::atomic<bool> shutting_down{false};
  metrics::Registry registry;
  // A failed log ends the process: the writes it held are answered 503, then the server drains.
  std::atomic<server::Server*> running_server{nullptr};
  std::optional<app::DurableWrites> durable_writes;
  if (durable_log) {
    durable_writes.emplace(store, *durable_log->writer, log_queue,
                           [&log, &shutting_down, &running_server, &config](const base::Status& failure) {
                             log.error("log_failed", {{"error", failure.message()}});
                             shutting_down.store(true, std::memory_order_relaxed);
                             if (server::Server* server = running_server.load()) {
                               server->drain(std::chrono::milliseconds(config.shutdown_grace_ms));
                             }
                           });
  }
  // Snapshots keep the log from growing forever: a background thread, started once the server is up.
  std::unique_ptr<app::Snapshotter> snapshotter;
  app::SnapshotMetrics snapshot_metrics;
  if (durable_log) {
    app::SnapshotterOptions snapshot_options;
    snapshot_options.directory = *config.data_dir;
    snapshot_options.limits = durable::RecordLimits::for_values_up_to(plan.max_body_bytes);
    snapshot_options.min_bytes = config.snapshot_min_bytes;
    snapshot_options.ratio = config.snapshot_ratio;
    snapshot_options.recovered_log_bytes = durable_log->recovery.bytes;
    snapshotter = std::make_unique<app::Snapshotter>(file_system, *durable_log->writer, store, log_queue, log,
                                                     std::move(snapshot_options));
    snapshot_metrics.attach(snapshotter.get());
  }
  app::ServiceContext context{store,         request_metrics, refusals,          registry,
                              shutting_down, log,             config.access_log, &access_tokens};
  context.durable = durable_writes ? &*durable_writes : nullptr;
  if (config.shard_name) context.shard_name = *config.shard_name;

  server::ServerOptions options = server_options(config, plan, *address, threads);
  options.connection.accounts.bodies = &inflight_bodies;
  options.connection.accounts.value_files = large_values;
  options.connection_memory = &connection_memory;
  if (admin_address) {
    options.admin_address = *admin_address;
    options.admin_memory = &admin_memory;
  }
  options.signal_shutdown = server::SignalShutdown{
      shutdown_signals, std::chrono::milliseconds(config.shutdown_delay_ms),
      std::chrono::milliseconds(config.shutdown_grace_ms), [&shutting_down, &log, &config](int signal_number) {
        // From here /readyz fails, so load balancers stop sending during the delay.
        shutting_down.store(true, std::memory_order_relaxed);
        log.info("shutdown_started", {{"signal", static_cast<std::int64_t>(signal_number)},
                                      {"delay_ms", static_cast<std::uint64_t>(config.shutdown_delay_ms)},
                                      {"grace_ms", static_cast<std::uint64_t>(config.shutdown_grace_ms)}});
      }};
  // Only the counts are logged, never a token.
  options.signal_reload = server::SignalReload{reload_signals, [&access_tokens, &log] {
    if (const base::Status reloaded = access_tokens.reload(); !reloaded) {
      log.error("tokens_reload_failed", {{"error", reloaded.message()}});
      return;
    }
    const app::AccessTokens::Counts counts = access_tokens.counts();
    log.info("tokens_reloaded", {{"read_tokens", static_cast<std::uint64_t>(counts.read)},
                                 {"write_tokens", static_cast<std::uint64_t>(counts.write)}});
  }};
  const app::RouteSet data_routes = admin_address ? app::RouteSet::kData : app::RouteSet::kAll;
  server::Server server(
      std::move(options),
      [&context, data_routes](unsigned loop_index, server::ListenerKind kind, net::EventLoop& loop) {
        return std::make_unique<app::StorageService>(
            context, loop_index, kind == server::ListenerKind::kAdmin ? app::RouteSet::kAdmin : data_routes, &loop);
      },
      [&log](std::string_view event, int error_number) {
        log.warn(event, {{"errno", static_cast<std::int64_t>(error_number)}});
      });

  metrics::CallbackGauge connections_open("http_connections_open", "Client connections currently open.",
                                          [&server] { return static_cast<double>(server.open_connections()); });
  metrics::CallbackGauge connections_rejected(
      "http_connections_rejected_total",
      "Connections closed at accept: a connection limit, the connection memory budget, or no file descriptors.",
      [&server] { return static_cast<double>(server.rejected_connections()); }, metrics::MetricType::kCounter);
  metrics::CallbackGauge buckets("storage_api_buckets", "Buckets currently stored.",
                                 [&store] { return static_cast<double>(store.bucket_count()); });
  metrics::CallbackGauge stored_bytes(
      "storage_api_stored_bytes",
      "Bytes charged to the storage cap: the store's slab pages, index tables, interned content types and "
      "large values' blocks, including replaced or deleted values still being sent to a client.",
      [&store] { return static_cast<double>(store.stored_bytes()); });
  metrics::CallbackGauge capacity("storage_api_storage_capacity_bytes",
                                  "Cap on stored entries (MAX_STORAGE_BYTES); puts beyond it are answered 507.",
                                  [&store] { return static_cast<double>(store.max_bytes()); });
  metrics::CallbackGauge log_lines_dropped(
      "storage_api_log_lines_dropped_total",
      "Log lines dropped because stderr could not keep up (queue full) or failed.",
      [&log] { return static_cast<double>(log.dropped_lines()); }, metrics::MetricType::kCounter);
  metrics::InfoGauge build_info("storage_api_build_info", "Build information; the value is always 1.",
                                {{"version", STORAGE_API_VERSION}});
  app::MemoryMetrics memory({app::MemoryMetrics::Area{"storage", &store.account()},
                             app::MemoryMetrics::Area{"inflight_bodies", &inflight_bodies},
                             app::MemoryMetrics::Area{"connections", &connection_memory},
                             app::MemoryMetrics::Area{"admin", admin_address ? &admin_memory : nullptr}},
                            plan.limit, large_values);
  metrics::ProcessCollector process;
  refusals.set_accept_rejections(
      [&server](std::size_t index) { return server.rejected(static_cast<server::Rejection>(index)); });
  // Every counter and histogram starts from zero with the process: that is their OpenMetrics _created.
  registry.set_created(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count());
  registry.add(request_metrics);
  registry.add(refusals);
  registry.add(connections_open);
  registry.add(connections_rejected);
  registry.add(buckets);
  registry.add(stored_bytes);
  registry.add(capacity);
  registry.add(memory);
  registry.add(log_lines_dropped);
  registry.add(build_info);
  registry.add(process);
  if (durable_log) {
    registry.add(durable_metrics);
    registry.add(snapshot_metrics);
  }

  running_server.store(&server);
  if (const base::Status started = server.start(); !started) {
    log.error("start_failed", {{"error", started.message()}});
    return 1;
  }
  if (log.enabled(app::LogLevel::kInfo)) {
    const std::string effective_json = app::config_to_json(effective);
    const std::string memory_json = plan.to_json();
    log.info("listening", {{"host", config.host},
                           {"port", static_cast<std::uint64_t>(server.port())},
                           {"admin_port", static_cast<std::uint64_t>(server.admin_port())},
                           {"threads", static_cast<std::uint64_t>(threads)},
                           {"version", STORAGE_API_VERSION},
                           {"memory_budget", memory_json, true},
                           {"value_files_limit", static_cast<std::uint64_t>(large_values ? large_values->max_files() : 0)},
                           {"config", effective_json, true}});
  }

  if (access_tokens.required(app::Access::kRead) || access_tokens.required(app::Access::kWrite)) {
    const app::AccessTokens::Counts counts = access_tokens.counts();
    log.info("tokens_loaded", {{"read_tokens", static_cast<std::uint64_t>(counts.read)},
                               {"write_tokens", static_cast<std::uint64_t>(counts.write)}});
    // Legal, and most likely a mistake: reads need a token and writes do not.
    if (!access_tokens.required(app::Access::kWrite)) log.warn("writes_need_no_token", {});
  }

  if (snapshotter && config.snapshot_ratio > 0) {
    if (const base::Status started = snapshotter->start(); !started) {
      log.error("start_failed", {{"error", started.message()}});
      return 1;
    }
  }

  server.run();
  int exit_status = 0;
  if (durable_log) {
    // Before the log closes: a snapshot under way rotates it.
    snapshotter->stop();
    // Before the loops go: the last completions post their answers to them.
    if (const base::Status closed = durable_log->writer->close(); !closed) {
      log.error("log_close_failed", {{"error", closed.message()}});
      exit_status = 1;
    }
    if (durable_writes->log_failed()) exit_status = 1;
  }
  log.info("shutdown_complete", {{"open_connections", static_cast<std::uint64_t>(server.open_connections())},
                                 {"exit_status", static_cast<std::int64_t>(exit_status)}});
  return exit_status;
}
