#include "app/config_values.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>
#include <utility>

#include "base/text.h"

namespace app {

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

std::optional<std::uint16_t> parse_port(std::string_view text) noexcept {
  const auto port = base::parse_unsigned(text);
  if (!port || *port > std::numeric_limits<std::uint16_t>::max()) return std::nullopt;
  return static_cast<std::uint16_t>(*port);
}

std::optional<std::string> parse_host(std::string_view text) {
  std::string host(text);
  if (host == "localhost") host = "127.0.0.1";
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  in_addr ipv4{};
  in6_addr ipv6{};
  if (::inet_pton(AF_INET, host.c_str(), &ipv4) != 1 && ::inet_pton(AF_INET6, host.c_str(), &ipv6) != 1) {
    return std::nullopt;
  }
  return host;
}

std::optional<std::vector<double>> parse_increasing_list(std::string_view text) {
  std::vector<double> values;
  if (base::trim_ows(text).empty()) return values;
  while (true) {
    const std::size_t comma = text.find(',');
    const std::string_view item = base::trim_ows(text.substr(0, comma));
    double value = 0;
    const auto [end, error] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (item.empty() || error != std::errc{} || end != item.data() + item.size() || !std::isfinite(value) ||
        value <= 0 || (!values.empty() && value <= values.back())) {
      return std::nullopt;
    }
    values.push_back(value);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return values;
}

std::string format_size(std::uint64_t bytes) {
  static constexpr std::pair<unsigned, std::string_view> kUnits[] = {{30, "GiB"}, {20, "MiB"}, {10, "KiB"}};
  for (const auto& [shift, unit] : kUnits) {
    const std::uint64_t scale = std::uint64_t{1} << shift;
    if (bytes != 0 && bytes % scale == 0) return std::to_string(bytes / scale) + std::string(unit);
  }
  return std::to_string(bytes);
}

std::string format_duration(std::uint64_t ms) {
  if (ms == 0) return "0";
  if (ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string format_list(const std::vector<double>& values) {
  std::string out;
  for (const double value : values) {
    if (!out.empty()) out.push_back(',');
    char buffer[32];
    const auto [end, error] = std::to_chars(buffer, buffer + sizeof buffer, value);
    if (error == std::errc{} && std::isfinite(value)) out.append(buffer, end);
    else out += "null";
  }
  return out;
}

}  // namespace app
