#include "app/config_options.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include "app/config_values.h"
#include "app/log.h"
#include "base/text.h"

namespace app {
namespace {

constexpr std::uint64_t kMillisecondsPerDay = 24ull * 60 * 60 * 1000;
constexpr std::uint64_t kSizeMax = std::numeric_limits<std::size_t>::max();

constexpr std::string_view kPositiveSize =
    "expected a positive byte count, optionally with a K, M or G suffix (K/Ki/KiB = 1024), e.g. 65536 or 64MiB";
constexpr std::string_view kDurationFromZero =
    "expected a duration from 0 to 1 day: milliseconds, or a whole number with ms, s or m, e.g. 500 or 5s";
constexpr std::string_view kDurationFromOne =
    "expected a duration from 1ms to 1 day: milliseconds, or a whole number with ms, s or m, e.g. 500 or 5s";

// Stores `parsed` in `field` when it lies within [minimum, maximum]; otherwise returns `expected`.
template <typename Field>
Problem store(std::optional<std::uint64_t> parsed, std::uint64_t minimum, std::uint64_t maximum, Field& field,
              std::string_view expected) {
  using Value = typename decltype(std::optional(field))::value_type;  // Field is a Value or an optional one
  static_assert(std::is_unsigned_v<Value>);
  if (!parsed || *parsed < minimum || *parsed > maximum || *parsed > std::numeric_limits<Value>::max()) {
    return std::string(expected);
  }
  field = static_cast<Value>(*parsed);
  return std::nullopt;
}

Problem apply_host(std::string_view value, Config& config) {
  std::optional<std::string> host = parse_host(value);
  if (!host) return "expected an IPv4 or IPv6 address such as 0.0.0.0, ::, 127.0.0.1 or localhost";
  config.host = std::move(*host);
  return std::nullopt;
}

Problem apply_histogram_buckets(std::string_view value, Config& config) {
  // Explicitly empty selects the built-in buckets, like an unset variable.
  std::optional<std::vector<double>> bounds = parse_increasing_list(value);
  if (!bounds) {
    return "expected comma-separated positive, finite, strictly increasing seconds, e.g. 0.005,0.05,0.5,5 "
           "(+Inf is implicit)";
  }
  config.histogram_buckets = std::move(*bounds);
  return std::nullopt;
}

Problem apply_native_schema(std::string_view value, Config& config) {
  int schema = 0;
  const auto parsed = std::from_chars(value.data(), value.data() + value.size(), schema);
  if (value.empty() || parsed.ec != std::errc() || parsed.ptr != value.data() + value.size() || schema < -4 ||
      schema > 5) {
    return "expected an integer from -4 to 5 (2^schema buckets per power of two; 3 = about 9 % wide)";
  }
  config.native_histogram_schema = schema;
  return std::nullopt;
}

Problem apply_native_zero_threshold(std::string_view value, Config& config) {
  double threshold = 0;
  const auto parsed = std::from_chars(value.data(), value.data() + value.size(), threshold);
  if (value.empty() || parsed.ec != std::errc() || parsed.ptr != value.data() + value.size() ||
      !std::isnormal(threshold) || threshold <= 0 || threshold > 1) {
    return "expected seconds above 0 and at most 1, e.g. 1e-6";
  }
  config.native_histogram_zero_threshold = threshold;
  return std::nullopt;
}

Problem apply_native_bucket_limit(std::string_view value, Config& config) {
  std::uint64_t limit = 0;
  const auto parsed = std::from_chars(value.data(), value.data() + value.size(), limit);
  if (value.empty() || parsed.ec != std::errc() || parsed.ptr != value.data() + value.size() || limit > 10000) {
    return "expected a bucket count from 0 (no limit) to 10000";
  }
  config.native_histogram_bucket_limit = static_cast<std::size_t>(limit);
  return std::nullopt;
}

// The first name of a level is the one it is shown as; "warning" is accepted too.
constexpr std::array<std::pair<std::string_view, LogLevel>, 5> kLogLevels{{
    {"debug", LogLevel::kDebug}, {"info", LogLevel::kInfo}, {"warn", LogLevel::kWarn},
    {"warning", LogLevel::kWarn}, {"error", LogLevel::kError},
}};

// Stores the value of the name `value` matches (case-insensitively) in `out`; false when none does.
template <typename Value, std::size_t N>
bool choose(std::string_view value, const std::array<std::pair<std::string_view, Value>, N>& names, Value& out) {
  for (const auto& [name, named] : names) {
    if (base::equals_ignore_case(value, name)) {
      out = named;
      return true;
    }
  }
  return false;
}

Problem apply_log_level(std::string_view value, Config& config) {
  if (choose(value, kLogLevels, config.log_level)) return std::nullopt;
  return "expected one of debug, info, warn, error";
}

template <bool Config::*Member>
Problem apply_switch(std::string_view value, Config& config) {
  const auto enabled = parse_bool(value);
  if (!enabled) return "expected true/false, 1/0, yes/no or on/off";
  config.*Member = *enabled;
  return std::nullopt;
}

// A token file's path: any non-empty text without control characters (the file is read later, by
// AccessTokens, so that its errors name the file rather than the setting).
template <auto Member>
Problem apply_path(std::string_view value, Config& config) {
  for (const char c : value) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return "expected a file path without control characters";
  }
  config.*Member = std::string(value);
  return std::nullopt;
}

// A name (a shard's): 1 to 63 letters, digits, '.', '-' or '_', as a DNS label or a pod name has.
template <auto Member>
Problem apply_name(std::string_view value, Config& config) {
  const auto allowed = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
           c == '_';
  };
  if (value.empty() || value.size() > 63) return "expected a name of 1 to 63 characters";
  for (const char c : value) {
    if (!allowed(c)) return "expected a name of letters, digits, '.', '-' and '_'";
  }
  config.*Member = std::string(value);
  return std::nullopt;
}

constexpr std::array<std::pair<std::string_view, FsyncMode>, 3> kFsyncModes{{
    {"always", FsyncMode::kAlways}, {"everysec", FsyncMode::kEverySecond}, {"no", FsyncMode::kNo},
}};

std::string_view fsync_mode_name(FsyncMode mode) noexcept {
  for (const auto& [name, value] : kFsyncModes) {
    if (value == mode) return name;
  }
  return "always";
}

Problem apply_fsync(std::string_view value, Config& config) {
  if (choose(value, kFsyncModes, config.fsync)) return std::nullopt;
  return "expected one of always, everysec, no";
}

constexpr double kMaxSnapshotRatio = 1000;

Problem apply_snapshot_ratio(std::string_view value, Config& config) {
  double ratio = 0;
  const auto parsed = std::from_chars(value.data(), value.data() + value.size(), ratio, std::chars_format::fixed);
  if (value.empty() || parsed.ec != std::errc() || parsed.ptr != value.data() + value.size() || !(ratio >= 0) ||
      ratio > kMaxSnapshotRatio || value.front() == '-' || value.front() == '+') {
    return "expected a decimal number from 0 to 1000, e.g. 2 or 1.5 (0 = no snapshots)";
  }
  config.snapshot_ratio = ratio;
  return std::nullopt;
}

// ---- Renderers for --help and config_to_json().

enum class Unit { kCount, kBytes, kMilliseconds };

template <auto Member, Unit kUnit = Unit::kCount>
std::optional<std::string> show(const Config& config) {
  const auto value = std::optional(config.*Member);  // the same for plain and optional members
  if (!value) return std::nullopt;
  if constexpr (kUnit == Unit::kBytes) return format_size(*value);
  else if constexpr (kUnit == Unit::kMilliseconds) return format_duration(*value);
  else return std::to_string(*value);
}

template <auto Member>
void json_number(std::string& out, const Config& config) {
  const auto value = std::optional(config.*Member);
  out += value ? std::to_string(*value) : "null";
}

void json_quoted(std::string& out, std::string_view text) {
  out.push_back('"');
  append_json_escaped(out, text);
  out.push_back('"');
}

// A path setting that is unset by default: the path itself, or null (never the file's contents).
template <auto Member>
constexpr Option path_option(std::string_view flag, std::string_view variable, std::string_view meaning) {
  return {flag, variable, meaning, apply_path<Member>, [](const Config& c) { return c.*Member; },
          [](std::string& out, const Config& c) {
            if (c.*Member) json_quoted(out, *(c.*Member));
            else out += "null";
          },
          "unset"};
}

template <auto Member>
constexpr Option name_option(std::string_view flag, std::string_view variable, std::string_view meaning) {
  return {flag, variable, meaning, apply_name<Member>, [](const Config& c) { return c.*Member; },
          [](std::string& out, const Config& c) {
            if (c.*Member) json_quoted(out, *(c.*Member));
            else out += "null";
          },
          "unset"};
}

template <auto Member, Unit kUnit = Unit::kCount>
constexpr Option option(std::string_view flag, std::string_view variable, std::string_view meaning, Apply apply,
                        std::string_view unset = {}) {
  return {flag, variable, meaning, apply, show<Member, kUnit>, json_number<Member>, unset};
}

// A size of at least one byte.
template <auto Member>
constexpr Option size_option(std::string_view flag, std::string_view variable, std::string_view meaning,
                             std::string_view unset = {}) {
  constexpr Apply apply = [](std::string_view v, Config& c) {
    return store(parse_size(v), 1, kSizeMax, c.*Member, kPositiveSize);
  };
  return option<Member, Unit::kBytes>(flag, variable, meaning, apply, unset);
}

template <auto Member, std::uint64_t kMinimumMs = 1>
constexpr Option duration_option(std::string_view flag, std::string_view variable, std::string_view meaning) {
  constexpr Apply apply = [](std::string_view v, Config& c) {
    return store(parse_duration_ms(v), kMinimumMs, kMillisecondsPerDay, c.*Member,
                 kMinimumMs == 0 ? kDurationFromZero : kDurationFromOne);
  };
  return option<Member, Unit::kMilliseconds>(flag, variable, meaning, apply);
}

template <auto Member>
constexpr Option port_option(std::string_view flag, std::string_view variable, std::string_view meaning,
                             std::string_view unset = {}) {
  constexpr Apply apply = [](std::string_view v, Config& c) {
    const std::optional<std::uint16_t> parsed = parse_port(v);
    return store(parsed ? std::optional<std::uint64_t>(*parsed) : std::nullopt, 0, 65535, c.*Member,
                 "expected an integer from 0 to 65535");
  };
  return option<Member>(flag, variable, meaning, apply, unset);
}

// A whole number within [kMinimum, kMaximum]; `expected` describes that range.
template <auto Member, std::uint64_t kMinimum, std::uint64_t kMaximum, const std::string_view& kExpected>
constexpr Option count_option(std::string_view flag, std::string_view variable, std::string_view meaning,
                              std::string_view unset = {}) {
  constexpr Apply apply = [](std::string_view v, Config& c) {
    return store(base::parse_unsigned(v), kMinimum, kMaximum, c.*Member, kExpected);
  };
  return option<Member>(flag, variable, meaning, apply, unset);
}

constexpr std::string_view kThreadsRange = "expected an integer from 0 to 1024 (0 = one per usable CPU)";
constexpr std::string_view kAdminRange = "expected an integer from 1 to 1024";
constexpr std::string_view kPositive = "expected a positive integer";
constexpr std::string_view kCapOrZero = "expected a non-negative integer (0 = no cap)";

constexpr Option kOptions[] = {
    {"host", "HOST", "Address to listen on: IPv4 or IPv6 literal (\"::\" for dual-stack) or localhost", apply_host,
     [](const Config& c) { return std::optional<std::string>(c.host); },
     [](std::string& out, const Config& c) { json_quoted(out, c.host); }},
    port_option<&Config::port>("port", "PORT", "TCP port; 0 picks a free port (logged at start-up)"),
    port_option<&Config::admin_port>(
        "admin-port", "ADMIN_PORT",
        "Separate listener for /metrics, /healthz and /readyz only; unset = they stay on PORT; 0 = a free port",
        "unset"),
    count_option<&Config::admin_max_connections, 1, 1024, kAdminRange>(
        "admin-max-connections", "ADMIN_MAX_CONNECTIONS", "Open connections on the admin listener, 1 to 1024"),
    count_option<&Config::threads, 0, 1024, kThreadsRange>(
        "threads", "THREADS", "Event-loop threads; 0 = one per usable CPU (affinity and cgroup quota)"),
    size_option<&Config::max_memory_bytes>("max-memory-bytes", "MAX_MEMORY_BYTES",
                                           "Total memory budget of the process; unset = the cgroup memory limit",
                                           "cgroup limit"),
    size_option<&Config::max_storage_bytes>(
        "max-storage-bytes", "MAX_STORAGE_BYTES",
        "Cap on stored entries: values, ids and a fixed per-entry overhead; beyond it 507", "derived"),
    size_option<&Config::max_inflight_body_bytes>(
        "max-inflight-body-bytes", "MAX_INFLIGHT_BODY_BYTES",
        "Request bodies being received, summed over all connections; beyond it 503 with Retry-After", "derived"),
    size_option<&Config::max_body_bytes>("max-body-bytes", "MAX_BODY_BYTES",
                                         "Largest request body; larger bodies get 413", "derived"),
    size_option<&Config::max_connection_memory_bytes>(
        "max-connection-memory-bytes", "MAX_CONNECTION_MEMORY_BYTES",
        "Connection state, buffers and the kernel socket buffers they may fill", "derived"),
    count_option<&Config::max_connections, 1, kSizeMax, kPositive>(
        "max-connections", "MAX_CONNECTIONS", "Open connections on PORT; further ones are accepted and closed",
        "derived"),
    count_option<&Config::max_connections_per_client, 0, kSizeMax, kCapOrZero>(
        "max-connections-per-client", "MAX_CONNECTIONS_PER_CLIENT",
        "Open connections per client IP address on PORT; 0 = no cap"),
    option<&Config::socket_buffer_bytes, Unit::kBytes>(
        "socket-buffer-bytes", "SOCKET_BUFFER_BYTES", "SO_SNDBUF and SO_RCVBUF of each client socket, 4KiB to 16MiB",
        [](std::string_view v, Config& c) {
          return store(parse_size(v), 4 << 10, 16 << 20, c.socket_buffer_bytes,
                       "expected a size from 4KiB to 16MiB, optionally with a K, M or G suffix, e.g. 65536 or 64KiB");
        }),
    option<&Config::sendfile_min_bytes, Unit::kBytes>(
        "sendfile-min-bytes", "SENDFILE_MIN_BYTES",
        "Values at least this large are kept in memory files and sent with sendfile; 0 = never",
        [](std::string_view v, Config& c) {
          return store(parse_size(v), 0, kSizeMax, c.sendfile_min_bytes,
                       "expected a size, optionally with a K, M or G suffix, e.g. 262144 or 256KiB; 0 = never");
        }),
    size_option<&Config::max_header_bytes>("max-header-bytes", "MAX_HEADER_BYTES",
                                           "Largest request head; larger heads get 431"),
    size_option<&Config::max_request_line>("max-request-line", "MAX_REQUEST_LINE",
                                           "Longest request line; longer lines get 414"),
    duration_option<&Config::header_timeout_ms>("header-timeout", "HEADER_TIMEOUT_MS",
                                                "Time for a whole request head to arrive (408)"),
    duration_option<&Config::body_timeout_ms>("body-timeout", "BODY_TIMEOUT_MS",
                                              "Longest pause while a request body arrives (408)"),
    option<&Config::body_min_rate, Unit::kBytes>(
        "body-min-rate", "BODY_MIN_RATE",
        "Least average upload rate, bytes per second, after BODY_TIMEOUT_MS of grace (408); 0 = off",
        [](std::string_view v, Config& c) {
          return store(parse_size(v), 0, kSizeMax, c.body_min_rate,
                       "expected bytes per second, optionally with a K, M or G suffix, e.g. 1KiB; 0 turns it off");
        }),
    duration_option<&Config::idle_timeout_ms>("idle-timeout", "IDLE_TIMEOUT_MS",
                                              "Keep-alive connection without a request is closed"),
    duration_option<&Config::write_timeout_ms>("write-timeout", "WRITE_TIMEOUT_MS",
                                               "Longest pause while a client reads a response"),
    duration_option<&Config::shutdown_delay_ms, 0>(
        "shutdown-delay", "SHUTDOWN_DELAY_MS", "After SIGTERM, keep serving with /readyz 503 this long before draining"),
    duration_option<&Config::shutdown_grace_ms>("shutdown-grace", "SHUTDOWN_GRACE_MS",
                                                "Deadline for in-flight requests while draining"),
    {"histogram-buckets", "HISTOGRAM_BUCKETS", "Request-duration histogram upper bounds in seconds, comma-separated",
     apply_histogram_buckets,
     [](const Config& c) {
       return std::optional<std::string>(c.histogram_buckets.empty() ? "built-in" : format_list(c.histogram_buckets));
     },
     [](std::string& out, const Config& c) {
       // null: not configured, the built-in buckets apply.
       if (c.histogram_buckets.empty()) {
         out += "null";
         return;
       }
       out.push_back('[');
       out += format_list(c.histogram_buckets);
       out.push_back(']');
     }},
    {"native-histogram-schema", "NATIVE_HISTOGRAM_SCHEMA",
     "Native histogram resolution: 2^schema buckets per power of two, -4..5 (lowered to fit the bucket limit)",
     apply_native_schema, show<&Config::native_histogram_schema>, json_number<&Config::native_histogram_schema>},
    {"native-histogram-zero-threshold", "NATIVE_HISTOGRAM_ZERO_THRESHOLD",
     "Native histogram zero bucket: durations up to this many seconds", apply_native_zero_threshold,
     [](const Config& c) { return std::optional<std::string>(format_list({c.native_histogram_zero_threshold})); },
     [](std::string& out, const Config& c) { out += format_list({c.native_histogram_zero_threshold}); }},
    option<&Config::native_histogram_bucket_limit>(
        "native-histogram-bucket-limit", "NATIVE_HISTOGRAM_BUCKET_LIMIT",
        "Native histogram: most populated buckets per series; 0 = no limit", apply_native_bucket_limit),
    {"log-level", "LOG_LEVEL", "Least severe log level written: debug, info, warn, error", apply_log_level,
     [](const Config& c) { return std::optional<std::string>(log_level_name(c.log_level)); },
     [](std::string& out, const Config& c) { json_quoted(out, log_level_name(c.log_level)); }},
    {"access-log", "ACCESS_LOG", "One JSON log line per request (true/false; the flag alone means true)",
     apply_switch<&Config::access_log>, [](const Config& c) { return std::optional<std::string>(c.access_log ? "true" : "false"); },
     [](std::string& out, const Config& c) { out += c.access_log ? "true" : "false"; }, {}, true},
    path_option<&Config::read_token_file>(
        "read-token-file", "READ_TOKEN_FILE",
        "File of bearer tokens granting reads (GET, HEAD), one per line; unset = no token needed"),
    path_option<&Config::write_token_file>(
        "write-token-file", "WRITE_TOKEN_FILE",
        "File of bearer tokens granting writes (PUT, DELETE) and reads; unset = no token needed"),
    path_option<&Config::data_dir>(
        "data-dir", "DATA_DIR",
        "Directory of the durable log (created if absent, locked against a second process); unset = memory only"),
    {"fsync", "FSYNC", "With DATA_DIR, when a write is on disk: always (before its answer), everysec, no",
     apply_fsync, [](const Config& c) { return std::optional<std::string>(fsync_mode_name(c.fsync)); },
     [](std::string& out, const Config& c) { json_quoted(out, fsync_mode_name(c.fsync)); }},
    {"repair", "REPAIR",
     "With DATA_DIR, truncate a corrupt log where it goes bad (logging what is dropped) instead of refusing to start",
     apply_switch<&Config::repair>, [](const Config& c) { return std::optional<std::string>(c.repair ? "true" : "false"); },
     [](std::string& out, const Config& c) { out += c.repair ? "true" : "false"; }, {}, true},
    option<&Config::snapshot_min_bytes, Unit::kBytes>(
        "snapshot-min-bytes", "SNAPSHOT_MIN_BYTES",
        "With DATA_DIR, the least log written since the last snapshot that starts the next one",
        [](std::string_view v, Config& c) {
          return store(parse_size(v), 0, kSizeMax, c.snapshot_min_bytes,
                       "expected a byte count, optionally with a K, M or G suffix, e.g. 64MiB");
        }),
    {"snapshot-ratio", "SNAPSHOT_RATIO",
     "With DATA_DIR, snapshot once the log written since the last one passes this many times the stored "
     "bytes (and SNAPSHOT_MIN_BYTES); 0 = never",
     apply_snapshot_ratio, [](const Config& c) { return std::optional<std::string>(format_list({c.snapshot_ratio})); },
     [](std::string& out, const Config& c) { out += format_list({c.snapshot_ratio}); }},
    name_option<&Config::shard_name>(
        "shard-name", "SHARD_NAME",
        "This shard's name in a cluster: a bucket request whose X-Storage-Shard names another shard gets 421"),
};

}  // namespace

std::string_view log_level_name(LogLevel level) noexcept {
  for (const auto& [name, value] : kLogLevels) {
    if (value == level) return name;
  }
  return "info";
}

std::span<const Option> options() noexcept { return kOptions; }

const Option* find_option(std::string_view flag) noexcept {
  for (const Option& option : kOptions) {
    if (option.flag == flag) return &option;
  }
  return nullptr;
}

}  // namespace app
