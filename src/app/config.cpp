#include "app/config.h"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "app/config_options.h"
#include "app/config_values.h"
#include "app/log.h"
#include "base/text.h"

namespace app {
namespace {

// An error quotes at most this much of a bad value, so a huge variable cannot flood the terminal.
constexpr std::size_t kMaxQuotedValue = 80;

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

// Checks between settings, once each has a valid value of its own.
std::optional<std::string> cross_check(const Config& config) {
  if (config.admin_port && *config.admin_port == config.port && config.port != 0) {
    return "invalid ADMIN_PORT / --admin-port " + quoted_for_error(std::to_string(*config.admin_port)) +
           ": expected a port other than PORT / --port " + std::to_string(config.port) +
           " (only 0 may be given to both: each listener then gets its own free port)";
  }
  return std::nullopt;
}

}  // namespace

ConfigResult parse_config(const std::vector<std::string_view>& args, const EnvLookup& env) {
  const std::span<const Option> table = options();
  std::vector<std::optional<std::string_view>> flag_values(table.size());
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
    flag_values[static_cast<std::size_t>(option - table.data())] = value;
  }
  if (help) {
    ConfigResult result;
    result.mode = Mode::kHelp;
    return result;
  }
  if (!first_error.empty()) return error_result(std::move(first_error));

  ConfigResult result;
  result.mode = healthcheck ? Mode::kHealthcheck : Mode::kServe;
  for (std::size_t index = 0; index < table.size(); ++index) {
    const Option& option = table[index];
    std::optional<std::string> from_env;
    std::string_view value;
    if (flag_values[index]) {
      value = *flag_values[index];
    } else if (env && (from_env = env(option.variable)) && !from_env->empty()) {
      value = *from_env;
    } else {
      continue;  // an empty variable counts as unset
    }
    if (const Problem expected = option.apply(value, result.config)) {
      return error_result("invalid " + std::string(option.variable) + " / --" + std::string(option.flag) + " " +
                          quoted_for_error(value) + ": " + *expected);
    }
  }
  if (std::optional<std::string> problem = cross_check(result.config)) return error_result(std::move(*problem));
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
  for (const Option& option : options()) {
    std::string flag = "--" + std::string(option.flag);
    if (option.is_switch) flag += "[=BOOL]";
    rows.push_back({std::move(flag), std::string(option.variable),
                    option.show(defaults).value_or(std::string(option.unset)), std::string(option.meaning)});
  }
  rows.push_back({"--healthcheck", "", "", "Probe GET /healthz on HOST:ADMIN_PORT (else PORT); exit 0 when healthy, else 1"});
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
      "(SHUTDOWN_DELAY_MS may be 0).\n"
      "\n"
      "Memory: the limit is MAX_MEMORY_BYTES, else the cgroup memory limit. A runtime reserve of 1/16 of it\n"
      "(at least 32MiB) and the admin connections come first; the settings given are taken as they are, and\n"
      "the rest is shared by the \"derived\" ones: storage 50%, in-flight bodies 25%, connection memory 25%.\n"
      "Without a limit: storage 256MiB, in-flight bodies 128MiB, connection memory 256MiB.\n"
      "MAX_BODY_BYTES is 64MiB, or the in-flight budget if smaller. MAX_CONNECTIONS is the connection memory\n"
      "divided by one connection's cost (its state and 4 x SOCKET_BUFFER_BYTES), at most 10000.\n"
      "\n"
      "Token files: one bearer token (RFC 6750 b64token) per line, at most 32 of them and 64KiB; blank lines\n"
      "and lines starting with # are ignored. Clients send \"Authorization: Bearer <token>\". Several tokens\n"
      "allow rotation; SIGHUP re-reads both files and keeps the old tokens if either is invalid.\n";
  return out;
}

std::string config_to_json(const Config& config) {
  std::string out = "{";
  for (const Option& option : options()) {
    if (out.size() > 1) out.push_back(',');
    out.push_back('"');
    for (const char c : option.variable) out.push_back(base::to_lower_ascii(c));  // the Config member's name
    out.push_back('"');
    out.push_back(':');
    option.append_json(out, config);
  }
  out.push_back('}');
  return out;
}

}  // namespace app
