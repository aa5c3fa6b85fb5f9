#include "app/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <limits>

#include "app/log.h"
#include "base/text.h"

namespace app {
namespace {

constexpr std::uint64_t kMillisecondsPerDay = 24ull * 60 * 60 * 1000;
// An error quotes at most this much of a bad value, so a huge variable cannot flood the terminal.
constexpr std::size_t kMaxQuotedValue = 80;

// Returns what a valid value looks like when `value` is not one; nullopt when `config` was updated.
using Apply = std::optional<std::string_view> (*)(std::string_view value, Config& config);

struct Option {
  std::string_view flag;      // without the leading "--"
  std::string_view variable;  // environment variable
  std::string_view field;     // the Config member; also its key in config_to_json()
  std::string_view meaning;
  Apply apply;
  std::string (*show)(const Config& config);                    // for --help
  void (*append_json)(std::string& out, const Config& config);  // for config_to_json()
  bool is_switch = false;  // may be given without a value, meaning true
};

// ---- Value parsers: strict, no signs, no spaces, no trailing garbage, no overflow.

std::optional<std::uint64_t> parse_size(std::string_view text) noexcept {
  const auto parsed = base::leading_unsigned(text);
  if (!parsed) return std::nullopt;
  const auto [number, suffix] = *parsed;
  struct Unit {
    std::string_view names[3];
    unsigned shift;
  };
  static constexpr Unit kUnits[] = {
      {{"", "", ""}, 0}, {{"K", "Ki", "KiB"}, 10}, {{"M", "Mi", "MiB"}, 20}, {{"G", "Gi", "GiB"}, 30}};
  for (const Unit& unit : kUnits) {
    for (const std::string_view name : unit.names) {
      if (!base::equals_ignore_case(suffix, name)) continue;
      if (number > (std::numeric_limits<std::uint64_t>::max() >> unit.shift)) return std::nullopt;
      return number << unit.shift;
    }
  }
  return std::nullopt;
}

std::optional<std::uint64_t> parse_duration_ms(std::string_view text) noexcept {
  const auto parsed = base::leading_unsigned(text);
  if (!parsed) return std::nullopt;
  const auto [number, unit] = *parsed;
  std::uint64_t scale = 0;
  if (unit.empty() || unit == "ms") scale = 1;
  else if (unit == "s") scale = 1000;
  else if (unit == "m") scale = 60 * 1000;
  else return std::nullopt;
  if (number > std::numeric_limits<std::uint64_t>::max() / scale) return std::nullopt;
  return number * scale;
}

std::optional<bool> parse_bool(std::string_view text) noexcept {
  for (const std::string_view word : {"true", "1", "yes", "on"}) {
    if (base::equals_ignore_case(text, word)) return true;
  }
  for (const std::string_view word : {"false", "0", "no", "off"}) {
    if (base::equals_ignore_case(text, word)) return false;
  }
  return std::nullopt;
}

constexpr std::array<std::pair<std::string_view, LogLevel>, 4> kLogLevels{{
    {"debug", LogLevel::kDebug},
    {"info", LogLevel::kInfo},
    {"warn", LogLevel::kWarn},
    {"error", LogLevel::kError},
}};

std::string_view log_level_name(LogLevel level) noexcept {
  for (const auto& [name, value] : kLogLevels) {
    if (value == level) return name;
  }
  return "info";
}

// ---- Appliers, one per kind of setting.

template <auto Member>
std::optional<std::string_view> apply_size(std::string_view value, Config& config) {
  const auto bytes = parse_size(value);
  if (!bytes || *bytes == 0 || *bytes > std::numeric_limits<std::size_t>::max()) {
    return "expected a positive byte count, optionally with a K, M or G suffix (K/Ki/KiB = 1024), "
           "e.g. 65536 or 64MiB";
  }
  config.*Member = static_cast<std::size_t>(*bytes);
  return std::nullopt;
}

template <auto Member, std::uint64_t kMinimumMs>
std::optional<std::string_view> apply_duration(std::string_view value, Config& config) {
  const auto ms = parse_duration_ms(value);
  if (!ms || *ms < kMinimumMs || *ms > kMillisecondsPerDay) {
    if constexpr (kMinimumMs == 0) {
      return "expected a duration from 0 to 1 day: milliseconds, or a whole number with ms, s or m, "
             "e.g. 500 or 5s";
    } else {
      return "expected a duration from 1ms to 1 day: milliseconds, or a whole number with ms, s or m, "
             "e.g. 500 or 5s";
    }
  }
  config.*Member = static_cast<std::uint32_t>(*ms);
  return std::nullopt;
}

std::optional<std::string_view> apply_port(std::string_view value, Config& config) {
  const auto port = base::parse_unsigned(value);
  if (!port || *port > 65535) return "expected an integer from 0 to 65535";
  config.port = static_cast<std::uint16_t>(*port);
  return std::nullopt;
}

std::optional<std::string_view> apply_threads(std::string_view value, Config& config) {
  const auto threads = base::parse_unsigned(value);
  if (!threads || *threads > 1024) return "expected an integer from 0 to 1024 (0 = one per usable CPU)";
  config.threads = static_cast<unsigned>(*threads);
  return std::nullopt;
}

std::optional<std::string_view> apply_max_connections(std::string_view value, Config& config) {
  const auto count = base::parse_unsigned(value);
  if (!count || *count == 0 || *count > std::numeric_limits<std::size_t>::max())
    return "expected a positive integer";
  config.max_connections = static_cast<std::size_t>(*count);
  return std::nullopt;
}

std::optional<std::string_view> apply_host(std::string_view value, Config& config) {
  std::string host(value);
  if (host == "localhost") host = "127.0.0.1";
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  in_addr ipv4{};
  in6_addr ipv6{};
  if (::inet_pton(AF_INET, host.c_str(), &ipv4) != 1 && ::inet_pton(AF_INET6, host.c_str(), &ipv6) != 1) {
    return "expected an IPv4 or IPv6 address such as 0.0.0.0, ::, 127.0.0.1 or localhost";
  }
  config.host = std::move(host);
  return std::nullopt;
}

std::optional<std::string_view> apply_histogram_buckets(std::string_view value, Config& config) {
  constexpr std::string_view kExpected =
      "expected comma-separated positive, finite, strictly increasing seconds, e.g. 0.005,0.05,0.5,5 "
      "(+Inf is implicit)";
  // Explicitly empty selects the built-in buckets, like an unset variable.
  if (base::trim_ows(value).empty()) {
    config.histogram_buckets.clear();
    return std::nullopt;
  }
  std::vector<double> bounds;
  while (true) {
    const std::size_t comma = value.find(',');
    const std::string_view item = base::trim_ows(value.substr(0, comma));
    double bound = 0;
    const auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), bound);
    if (item.empty() || error != std::errc{} || end != item.data() + item.size() || !std::isfinite(bound) ||
        bound <= 0 || (!bounds.empty() && bound <= bounds.back())) {
      return kExpected;
    }
    bounds.push_back(bound);
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  config.histogram_buckets = std::move(bounds);
  return std::nullopt;
}

std::optional<std::string_view> apply_log_level(std::string_view value, Config& config) {
  for (const auto& [name, level] : kLogLevels) {
    if (base::equals_ignore_case(value, name)) {
      config.log_level = level;
      return std::nullopt;
    }
  }
  if (base::equals_ignore_case(value, "warning")) {
    config.log_level = LogLevel::kWarn;
    return std::nullopt;
  }
  return "expected one of debug, info, warn, error";
}

std::optional<std::string_view> apply_access_log(std::string_view value, Config& config) {
  const auto enabled = parse_bool(value);
  if (!enabled) return "expected true/false, 1/0, yes/no or on/off";
  config.access_log = *enabled;
  return std::nullopt;
}

// ---- Renderers for --help and config_to_json().

std::string show_size(std::size_t bytes) {
  static constexpr std::pair<unsigned, std::string_view> kUnits[] = {{30, "GiB"}, {20, "MiB"}, {10, "KiB"}};
  for (const auto& [shift, unit] : kUnits) {
    const std::size_t scale = std::size_t{1} << shift;
    if (bytes != 0 && bytes % scale == 0) return std::to_string(bytes / scale) + std::string(unit);
  }
  return std::to_string(bytes);
}

std::string show_duration(std::uint32_t ms) {
  if (ms == 0) return "0";
  if (ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

void append_double(std::string& out, double value) {
  char buffer[32];
  const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
  if (error == std::errc{} && std::isfinite(value)) out.append(buffer, end);
  else out += "null";
}

std::string show_buckets(const std::vector<double>& bounds) {
  if (bounds.empty()) return "built-in";
  std::string out;
  for (const double bound : bounds) {
    if (!out.empty()) out.push_back(',');
    append_double(out, bound);
  }
  return out;
}

template <auto Member>
std::string show_number(const Config& config) {
  return std::to_string(config.*Member);
}

template <auto Member>
std::string show_size_of(const Config& config) {
  return show_size(config.*Member);
}

template <auto Member>
std::string show_duration_of(const Config& config) {
  return show_duration(config.*Member);
}

template <auto Member>
void json_number(std::string& out, const Config& config) {
  out += std::to_string(config.*Member);
}

void json_quoted(std::string& out, std::string_view text) {
  out.push_back('"');
  append_json_escaped(out, text);
  out.push_back('"');
}

const Option kOptions[] = {
    {"host", "HOST", "host", "Address to listen on: IPv4 or IPv6 literal (\"::\" for dual-stack) or localhost",
     apply_host, [](const Config& c) { return c.host; },
     [](std::string& out, const Config& c) { json_quoted(out, c.host); }},
    {"port", "PORT", "port", "TCP port; 0 picks a free port (logged at start-up)", apply_port,
     show_number<&Config::port>, json_number<&Config::port>},
    {"threads", "THREADS", "threads", "Event-loop threads; 0 = one per usable CPU (affinity and cgroup quota)",
     apply_threads, show_number<&Config::threads>, json_number<&Config::threads>},
    {"max-body-bytes", "MAX_BODY_BYTES", "max_body_bytes", "Largest request body; larger bodies get 413",
     apply_size<&Config::max_body_bytes>, show_size_of<&Config::max_body_bytes>,
     json_number<&Config::max_body_bytes>},
    {"max-storage-bytes", "MAX_STORAGE_BYTES", "max_storage_bytes",
     "Cap on the sum of stored values; puts beyond it get 507", apply_size<&Config::max_storage_bytes>,
     show_size_of<&Config::max_storage_bytes>, json_number<&Config::max_storage_bytes>},
    {"max-connections", "MAX_CONNECTIONS", "max_connections",
     "Open connections; further ones are accepted and closed", apply_max_connections,
     show_number<&Config::max_connections>, json_number<&Config::max_connections>},
    {"max-header-bytes", "MAX_HEADER_BYTES", "max_header_bytes", "Largest request head; larger heads get 431",
     apply_size<&Config::max_header_bytes>, show_size_of<&Config::max_header_bytes>,
     json_number<&Config::max_header_bytes>},
    {"max-request-line", "MAX_REQUEST_LINE", "max_request_line", "Longest request line; longer lines get 414",
     apply_size<&Config::max_request_line>, show_size_of<&Config::max_request_line>,
     json_number<&Config::max_request_line>},
    {"header-timeout", "HEADER_TIMEOUT_MS", "header_timeout_ms", "Time for a whole request head to arrive (408)",
     apply_duration<&Config::header_timeout_ms, 1>, show_duration_of<&Config::header_timeout_ms>,
     json_number<&Config::header_timeout_ms>},
    {"body-timeout", "BODY_TIMEOUT_MS", "body_timeout_ms", "Longest pause while a request body arrives (408)",
     apply_duration<&Config::body_timeout_ms, 1>, show_duration_of<&Config::body_timeout_ms>,
     json_number<&Config::body_timeout_ms>},
    {"idle-timeout", "IDLE_TIMEOUT_MS", "idle_timeout_ms", "Keep-alive connection without a request is closed",
     apply_duration<&Config::idle_timeout_ms, 1>, show_duration_of<&Config::idle_timeout_ms>,
     json_number<&Config::idle_timeout_ms>},
    {"write-timeout", "WRITE_TIMEOUT_MS", "write_timeout_ms", "Longest pause while a client reads a response",
     apply_duration<&Config::write_timeout_ms, 1>, show_duration_of<&Config::write_timeout_ms>,
     json_number<&Config::write_timeout_ms>},
    {"shutdown-delay", "SHUTDOWN_DELAY_MS", "shutdown_delay_ms",
     "After SIGTERM, keep serving with /readyz 503 this long before draining",
     apply_duration<&Config::shutdown_delay_ms, 0>, show_duration_of<&Config::shutdown_delay_ms>,
     json_number<&Config::shutdown_delay_ms>},
    {"shutdown-grace", "SHUTDOWN_GRACE_MS", "shutdown_grace_ms", "Deadline for in-flight requests while draining",
     apply_duration<&Config::shutdown_grace_ms, 1>, show_duration_of<&Config::shutdown_grace_ms>,
     json_number<&Config::shutdown_grace_ms>},
    {"histogram-buckets", "HISTOGRAM_BUCKETS", "histogram_buckets",
     "Request-duration histogram upper bounds in seconds, comma-separated", apply_histogram_buckets,
     [](const Config& c) { return show_buckets(c.histogram_buckets); },
     [](std::string& out, const Config& c) {
       // null: not configured, the built-in buckets apply.
       if (c.histogram_buckets.empty()) {
         out += "null";
         return;
       }
       out.push_back('[');
       out += show_buckets(c.histogram_buckets);
       out.push_back(']');
     }},
    {"log-level", "LOG_LEVEL", "log_level", "Least severe log level written: debug, info, warn, error",
     apply_log_level, [](const Config& c) { return std::string(log_level_name(c.log_level)); },
     [](std::string& out, const Config& c) { json_quoted(out, log_level_name(c.log_level)); }},
    {"access-log", "ACCESS_LOG", "access_log",
     "One JSON log line per request (true/false; the flag alone means true)", apply_access_log,
     [](const Config& c) { return std::string(c.access_log ? "true" : "false"); },
     [](std::string& out, const Config& c) { out += c.access_log ? "true" : "false"; }, true},
};
constexpr std::size_t kOptionCount = std::size(kOptions);

const Option* find_option(std::string_view flag) noexcept {
  for (const Option& option : kOptions) {
    if (option.flag == flag) return &option;
  }
  return nullptr;
}

std::string quoted_for_error(std::string_view value) {
  std::string out = "\"";
  append_json_escaped(out, value.substr(0, kMaxQuotedValue));
  if (value.size() > kMaxQuotedValue) out += "...";
  out.push_back('"');
  return out;
}

ConfigResult error_result(std::string message) {
  ConfigResult result;
  result.mode = Mode::kError;
  result.error = std::move(message);
  return result;
}

}  // namespace

ConfigResult parse_config(const std::vector<std::string_view>& args, const EnvLookup& env) {
  std::array<std::optional<std::string_view>, kOptionCount> flag_values;
  bool help = false;
  bool healthcheck = false;
  std::string first_error;
  const auto fail = [&first_error](std::string message) {
    if (first_error.empty()) first_error = std::move(message);
  };

  // Every argument is scanned even after an error, so that --help anywhere still shows the help.
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      help = true;
      continue;
    }
    if (arg == "--healthcheck") {
      healthcheck = true;
      continue;
    }
    if (arg.size() < 3 || arg.substr(0, 2) != "--") {
      if (arg.size() > 1 && arg.front() == '-') fail("unknown flag " + quoted_for_error(arg) + " (see --help)");
      else fail("unexpected argument " + quoted_for_error(arg) + " (see --help)");
      continue;
    }
    const std::size_t equals = arg.find('=');
    const std::string_view name =
        arg.substr(2, equals == std::string_view::npos ? std::string_view::npos : equals - 2);
    const Option* option = find_option(name);
    if (option == nullptr) {
      fail("unknown flag " + quoted_for_error(arg.substr(0, equals)) + " (see --help)");
      continue;
    }
    std::optional<std::string_view> value;
    const bool next_is_value = i + 1 < args.size() && args[i + 1].substr(0, 2) != "--";
    if (equals != std::string_view::npos) {
      value = arg.substr(equals + 1);
    } else if (option->is_switch) {
      // A switch takes the next argument only when it is a boolean word; otherwise it stands alone.
      value = next_is_value && parse_bool(args[i + 1]) ? args[++i] : std::string_view("true");
    } else if (next_is_value) {
      value = args[++i];
    } else {
      fail("missing value for " + std::string(option->variable) + " / --" + std::string(option->flag));
      continue;
    }
    flag_values[static_cast<std::size_t>(option - kOptions)] = value;
  }
  if (help) {
    ConfigResult result;
    result.mode = Mode::kHelp;
    return result;
  }
  if (!first_error.empty()) return error_result(std::move(first_error));

  ConfigResult result;
  result.mode = healthcheck ? Mode::kHealthcheck : Mode::kServe;
  for (std::size_t index = 0; index < kOptionCount; ++index) {
    const Option& option = kOptions[index];
    std::optional<std::string> from_env;
    std::string_view value;
    if (flag_values[index]) {
      value = *flag_values[index];
    } else if (env && (from_env = env(option.variable)) && !from_env->empty()) {
      value = *from_env;
    } else {
      continue;  // an empty variable counts as unset
    }
    if (const auto expected = option.apply(value, result.config)) {
      return error_result("invalid " + std::string(option.variable) + " / --" + std::string(option.flag) + " " +
                          quoted_for_error(value) + ": " + std::string(*expected));
    }
  }
  return result;
}

std::string usage_text() {
  const Config defaults;
  struct Row {
    std::string flag;
    std::string variable;
    std::string default_value;
    std::string meaning;
  };
  std::vector<Row> rows;
  rows.push_back({"Flag", "Variable", "Default", "Meaning"});
  for (const Option& option : kOptions) {
    std::string flag = "--" + std::string(option.flag);
    if (option.is_switch) flag += "[=BOOL]";
    rows.push_back(
        {std::move(flag), std::string(option.variable), option.show(defaults), std::string(option.meaning)});
  }
  rows.push_back({"--healthcheck", "", "", "Probe GET /healthz on HOST:PORT; exit 0 when healthy, else 1"});
  rows.push_back({"-h, --help", "", "", "Show this help"});

  std::size_t flag_width = 0;
  std::size_t variable_width = 0;
  std::size_t default_width = 0;
  for (const Row& row : rows) {
    flag_width = std::max(flag_width, row.flag.size());
    variable_width = std::max(variable_width, row.variable.size());
    default_width = std::max(default_width, row.default_value.size());
  }
  const auto pad = [](std::string& out, const std::string& text, std::size_t width) {
    out += text;
    out.append(width - text.size() + 2, ' ');
  };

  std::string out =
      "Usage: storage_api [flags]\n"
      "\n"
      "An in-memory object store served over HTTP/1.1. Every setting is a flag or an environment variable;\n"
      "a flag wins over its variable, a variable over the default, and an empty variable counts as unset.\n"
      "Flags take their value as the next argument or as --name=value.\n"
      "\n";
  for (const Row& row : rows) {
    out += "  ";
    pad(out, row.flag, flag_width);
    pad(out, row.variable, variable_width);
    pad(out, row.default_value, default_width);
    out += row.meaning;
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out.push_back('\n');
  }
  out +=
      "\n"
      "Sizes are bytes, or a whole number with K/Ki/KiB, M/Mi/MiB or G/Gi/GiB (powers of 1024).\n"
      "Durations are milliseconds, or a whole number with ms, s or m, from 1ms to 1 day\n"
      "(SHUTDOWN_DELAY_MS may be 0).\n";
  return out;
}

std::string config_to_json(const Config& config) {
  std::string out = "{";
  for (const Option& option : kOptions) {
    if (out.size() > 1) out.push_back(',');
    json_quoted(out, option.field);
    out.push_back(':');
    option.append_json(out, config);
  }
  out.push_back('}');
  return out;
}

}  // namespace app
