#pragma once
// Config: every setting of the service, from command-line flags over environment variables over defaults
// (12-factor: a flag wins, then the variable, then the default).
//
// parse_config() never exits and never prints: it returns the effective Config, or the one-line error to
// print before exiting 2, or a request for --help / --healthcheck. Sizes accept a plain byte count or a
// binary suffix (K/Ki/KiB, M/Mi/MiB, G/Gi/GiB = 1024^n); durations are milliseconds, or with a unit
// (ms, s, m); see config_values.h. Every flag is also accepted as --name=value. Settings that depend on each
// other are checked here too (ADMIN_PORT against PORT); the memory budget is checked by plan_memory().
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace app {

enum class LogLevel { kDebug, kInfo, kWarn, kError };
// When an acknowledged write reaches the disk (durable/log_writer.h FsyncPolicy).
enum class FsyncMode { kAlways, kEverySecond, kNo };

struct Config {
  std::string host = "0.0.0.0";          // HOST / --host: IPv4 or IPv6 literal, "::" for dual-stack
  std::uint16_t port = 5000;             // PORT / --port: 0 picks an ephemeral port (logged at start-up)
  // ADMIN_PORT: a separate listener for /metrics, /healthz and /readyz only; unset = they stay on PORT.
  std::optional<std::uint16_t> admin_port;
  std::uint32_t admin_max_connections = 16;    // ADMIN_MAX_CONNECTIONS: the admin listener's own allowance
  unsigned threads = 0;                  // THREADS / --threads: event loops; 0 = usable CPUs
  // The memory budget (see memory_plan.h): unset values are derived from MAX_MEMORY_BYTES, else from the
  // cgroup memory limit, else from fixed defaults.
  std::optional<std::size_t> max_memory_bytes;             // MAX_MEMORY_BYTES: total for the process
  std::optional<std::size_t> max_storage_bytes;            // MAX_STORAGE_BYTES: stored entries; beyond it 507
  std::optional<std::size_t> max_inflight_body_bytes;      // MAX_INFLIGHT_BODY_BYTES: bodies being received
  std::optional<std::size_t> max_body_bytes;               // MAX_BODY_BYTES: larger bodies get 413
  std::optional<std::size_t> max_connection_memory_bytes;  // MAX_CONNECTION_MEMORY_BYTES: all connections
  std::optional<std::size_t> max_connections;  // MAX_CONNECTIONS: further connections are accepted and closed
  std::size_t max_connections_per_client = 64;  // MAX_CONNECTIONS_PER_CLIENT: per client IP on PORT; 0 = no cap
  std::size_t socket_buffer_bytes = 64 * 1024;  // SOCKET_BUFFER_BYTES: SO_SNDBUF and SO_RCVBUF, 4KiB..16MiB
  std::size_t sendfile_min_bytes = 256 * 1024;  // SENDFILE_MIN_BYTES: values kept in memory files; 0 = never
  std::size_t max_header_bytes = 16 * 1024;    // MAX_HEADER_BYTES: larger heads get 431
  std::size_t max_request_line = 8 * 1024;     // MAX_REQUEST_LINE: longer lines get 414
  std::uint32_t header_timeout_ms = 10000;     // HEADER_TIMEOUT_MS: whole head must arrive within it (408)
  std::uint32_t body_timeout_ms = 30000;       // BODY_TIMEOUT_MS: longest pause while a body arrives (408)
  // BODY_MIN_RATE: after BODY_TIMEOUT_MS of grace a body must average this many bytes per second, i.e. be
  // complete by body start + BODY_TIMEOUT_MS + received / rate (408); 0 = no minimum.
  std::size_t body_min_rate = 1024;
  std::uint32_t idle_timeout_ms = 60000;       // IDLE_TIMEOUT_MS: keep-alive connection with no request
  std::uint32_t write_timeout_ms = 30000;      // WRITE_TIMEOUT_MS: longest pause while a reader drains us
  std::uint32_t shutdown_delay_ms = 0;         // SHUTDOWN_DELAY_MS: serve with /readyz 503 before draining
  std::uint32_t shutdown_grace_ms = 10000;     // SHUTDOWN_GRACE_MS: drain deadline after SIGTERM
  std::vector<double> histogram_buckets;       // HISTOGRAM_BUCKETS: "0.001,0.01,..." seconds
  // The native histogram next to those buckets (protobuf scrapes; metrics/native_histogram.h).
  int native_histogram_schema = 3;                        // NATIVE_HISTOGRAM_SCHEMA: -4..5
  double native_histogram_zero_threshold = 0x1p-20;       // NATIVE_HISTOGRAM_ZERO_THRESHOLD: seconds
  std::size_t native_histogram_bucket_limit = 160;        // NATIVE_HISTOGRAM_BUCKET_LIMIT: 0 = none
  LogLevel log_level = LogLevel::kInfo;        // LOG_LEVEL: debug, info, warn, error
  bool access_log = false;                     // ACCESS_LOG: one JSON line per request when true
  // Bearer tokens (see access_tokens.h): unset = that access needs no token. Paths only; the files are
  // read by AccessTokens at start-up and on SIGHUP.
  std::optional<std::string> read_token_file;   // READ_TOKEN_FILE: tokens granting reads
  std::optional<std::string> write_token_file;  // WRITE_TOKEN_FILE: tokens granting reads and writes
  // DATA_DIR: the durable log's directory (created if absent, locked); unset = in memory only.
  std::optional<std::string> data_dir;
  FsyncMode fsync = FsyncMode::kAlways;  // FSYNC: always, everysec, no
  bool repair = false;  // REPAIR / --repair: truncate a corrupt log where it goes bad instead of refusing to start
  // With DATA_DIR, a snapshot of the live set replaces the log once the log written since the last one
  // passes max(SNAPSHOT_MIN_BYTES, SNAPSHOT_RATIO x stored bytes); SNAPSHOT_RATIO 0 = never.
  std::size_t snapshot_min_bytes = std::size_t{64} << 20;
  double snapshot_ratio = 2;
  // SHARD_NAME: this shard's name behind a router; a bucket request whose X-Storage-Shard header names another
  // one is answered 421, so that an address reused by another shard can never serve or take its ids.
  std::optional<std::string> shard_name;
};

enum class Mode { kServe, kHelp, kHealthcheck, kError };

struct ConfigResult {
  Mode mode = Mode::kServe;
  Config config;
  std::string error;  // kError only: one line, no trailing newline
};

using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// args excludes argv[0]. `env` returns a variable's value, or nullopt when unset.
ConfigResult parse_config(const std::vector<std::string_view>& args, const EnvLookup& env);

// The --help text: every flag with its variable, meaning and default.
std::string usage_text();

// The configuration as a JSON object (for the start-up log line); settings left unset are null.
std::string config_to_json(const Config& config);

}  // namespace app
