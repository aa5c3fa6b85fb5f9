#pragma once
// parse_config() over a fixed set of environment variables, for the configuration tests.
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "app/config.h"

namespace app::test {

using Env = std::map<std::string, std::string, std::less<>>;

inline EnvLookup lookup_in(const Env& env) {
  return [&env](std::string_view name) -> std::optional<std::string> {
    const auto found = env.find(name);
    if (found == env.end()) return std::nullopt;
    return found->second;
  };
}

inline ConfigResult parse(std::vector<std::string_view> args, const Env& env = {}) {
  return parse_config(args, lookup_in(env));
}

inline std::string flag_name(std::string_view flag) { return "--" + std::string(flag); }

}  // namespace app::test
