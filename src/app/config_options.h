#pragma once
// The option table behind parse_config(), usage_text() and config_to_json(): every setting's flag,
// variable, meaning, how a value is checked and stored in Config, and how the setting is shown.
// Internal to the configuration module; adding a setting means adding a Config member and one row here.
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "app/config.h"

namespace app {

// What a valid value looks like when the given one is not valid; nullopt when the value was stored.
using Problem = std::optional<std::string>;
using Apply = Problem (*)(std::string_view value, Config& config);

struct Option {
  std::string_view flag;      // without the leading "--"
  std::string_view variable;  // environment variable; in lower case, the Config member and JSON key
  std::string_view meaning;
  Apply apply;
  std::optional<std::string> (*show)(const Config& config);     // for --help; nullopt while unset
  void (*append_json)(std::string& out, const Config& config);  // for config_to_json()
  std::string_view unset = {};  // --help's default column for a setting that is unset by default
  bool is_switch = false;       // may be given without a value, meaning true
};

// Every setting, in --help order.
std::span<const Option> options() noexcept;

// The option with this flag (without "--"), or nullptr.
const Option* find_option(std::string_view flag) noexcept;

// A log level's canonical name ("debug", "info", "warn", "error").
std::string_view log_level_name(LogLevel level) noexcept;

}  // namespace app
