#pragma once
// Config: every setting of the service, from command-line flags over environment variables over defaults
// (12-factor: a flag wins, then the variable, then the default).
//
// parse_config() never exits and never prints: it returns the effective Config, or the one-line error to
// print before exiting 2, or a request for --help / --healthcheck. Sizes accept a plain byte count or a
// binary suffix (K/Ki/KiB, M/Mi/MiB, G/Gi/GiB = 1024^n); durations are milliseconds, or with a unit
// (ms, s, m). Every flag is also accepted as --name=value.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace app {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

struct Config {
  std::string host = "0.0.0.0";          // HOST / --host: IPv4 or IPv6 literal, "::" for dual-stack
  std::uint16_t port = 5000;             // PORT / --port: 0 picks an ephemeral port (logged at start-up)
  unsigned threads = 0;                  // THREADS / --threads: event loops; 0 = usable CPUs
  std::size_t max_body_bytes = 64u << 20;      // MAX_BODY_BYTES: larger bodies get 413
  std::size_t max_storage_bytes = 256u << 20;  // MAX_STORAGE_BYTES: puts beyond it get 507
  std::size_t max_connections = 10000;   // MAX_CONNECTIONS: further connections are accepted and closed
  std::size_t max_header_bytes = 16 * 1024;    // MAX_HEADER_BYTES: larger heads get 431
  std::size_t max_request_line = 8 * 1024;     // MAX_REQUEST_LINE: longer lines get 414
  std::uint32_t header_timeout_ms = 10000;     // HEADER_TIMEOUT_MS: whole head must arrive within it (408)
  std::uint32_t body_timeout_ms = 30000;       // BODY_TIMEOUT_MS: longest pause while a body arrives (408)
  std::uint32_t idle_timeout_ms = 60000;       // IDLE_TIMEOUT_MS: keep-alive connection with no request
  std::uint32_t write_timeout_ms = 30000;      // WRITE_TIMEOUT_MS: longest pause while a reader drains us
  std::uint32_t shutdown_delay_ms = 0;         // SHUTDOWN_DELAY_MS: serve with /readyz 503 before draining
  std::uint32_t shutdown_grace_ms = 10000;     // SHUTDOWN_GRACE_MS: drain deadline after SIGTERM
  std::vector<double> histogram_buckets;       // HISTOGRAM_BUCKETS: "0.001,0.01,..." seconds
  LogLevel log_level = LogLevel::kInfo;        // LOG_LEVEL: debug, info, warn, error
  bool access_log = false;                     // ACCESS_LOG: one JSON line per request when true
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

// The effective configuration as a JSON object (for the start-up log line).
std::string config_to_json(const Config& config);

}  // namespace app
