#include "app/memory_plan.h"

#include <algorithm>
#include <array>
#include <limits>
#include <string_view>

#include "app/config_values.h"
#include "app/log.h"

namespace app {
namespace {

constexpr std::size_t kMiB = std::size_t{1} << 20;
constexpr std::size_t kMinimumRuntimeReserve = 32 * kMiB;
constexpr std::size_t kRuntimeReserveDivisor = 16;
// Below this, storage, bodies and connections together would be too small to serve anything useful.
constexpr std::size_t kMinimumShared = 16 * kMiB;
constexpr std::size_t kDefaultMaxBodyBytes = 64 * kMiB;
constexpr std::size_t kMaxDerivedConnections = 10000;
constexpr std::size_t kSizeMax = std::numeric_limits<std::size_t>::max();

std::size_t saturating_add(std::size_t a, std::size_t b) noexcept { return b > kSizeMax - a ? kSizeMax : a + b; }

std::optional<std::size_t> checked_multiply(std::size_t a, std::size_t b) noexcept {
  std::size_t product = 0;
  if (__builtin_mul_overflow(a, b, &product)) return std::nullopt;
  return product;
}

// A sum of budgets, which saturates rather than wraps (each term may be as large as a size_t).
std::string format_total(std::size_t bytes) { return bytes == kSizeMax ? "over 16EiB" : format_size(bytes); }

// One of the budgets shared by weight.
struct Share {
  std::string_view variable;
  std::optional<std::size_t> explicit_bytes;
  std::string label;  // how an explicit value is named in errors
  std::size_t weight;
  std::size_t unlimited_default;  // without a memory limit
  std::size_t bytes = 0;
};

std::string limit_text(const MemoryPlan& plan) {
  return "memory limit " + format_size(plan.limit) + " (" + plan.limit_source + ")";
}

// Where a budget came from, for errors about MAX_BODY_BYTES and MAX_CONNECTIONS.
std::string origin(const Share& share, const MemoryPlan& plan, bool has_limit) {
  if (share.explicit_bytes) return std::string(share.variable);
  if (!has_limit) return "default without a memory limit";
  return "derived from " + limit_text(plan);
}

// With a limit: the reserve and admin budget off the top, explicit budgets as given, the rest by weight.
base::Status divide_limit(MemoryPlan& plan, std::array<Share, 3>& shares) {
  plan.runtime_reserve = std::max(kMinimumRuntimeReserve, plan.limit / kRuntimeReserveDivisor);
  const std::string overhead = (plan.admin_memory != 0 ? "admin " + format_size(plan.admin_memory) + " + " : "") +
                               "runtime reserve " + format_size(plan.runtime_reserve);
  const std::size_t overhead_bytes = saturating_add(plan.admin_memory, plan.runtime_reserve);
  const std::size_t minimum = saturating_add(overhead_bytes, kMinimumShared);
  if (plan.limit < minimum) {
    return base::Status::error(limit_text(plan) + " is too small: " + overhead + " + " +
                               format_size(kMinimumShared) +
                               " minimum for storage, request bodies and connections = " + format_total(minimum));
  }
  const std::size_t available = plan.limit - overhead_bytes;

  std::string terms;
  std::size_t explicit_sum = 0;
  std::size_t unset_weight = 0;
  for (const Share& share : shares) {
    if (!share.explicit_bytes) {
      unset_weight += share.weight;
      continue;
    }
    terms += share.label + " + ";
    explicit_sum = saturating_add(explicit_sum, *share.explicit_bytes);
  }
  const std::string sum = terms + overhead + " = " + format_total(saturating_add(explicit_sum, overhead_bytes));
  if (explicit_sum > available) {
    return base::Status::error("memory budget does not fit: " + sum + " > " + limit_text(plan));
  }

  // floor(rest * weight / unset_weight) without overflow; what rounding leaves goes to the first unset one.
  const std::size_t rest = available - explicit_sum;
  std::size_t handed_out = 0;
  Share* first_unset = nullptr;
  for (Share& share : shares) {
    if (share.explicit_bytes) continue;
    share.bytes = rest / unset_weight * share.weight + rest % unset_weight * share.weight / unset_weight;
    handed_out += share.bytes;
    if (first_unset == nullptr) first_unset = &share;
  }
  if (first_unset != nullptr) first_unset->bytes += rest - handed_out;
  for (const Share& share : shares) {
    if (!share.explicit_bytes && share.bytes == 0) {
      return base::Status::error("memory budget does not fit: " + sum + " leaves nothing for " +
                                 std::string(share.variable) + " within " + limit_text(plan));
    }
  }
  return base::Status::ok();
}

void append_json_key(std::string& out, std::string_view key) {
  out += out.size() > 1 ? ",\"" : "\"";
  out += key;
  out += "\":";
}

}  // namespace

base::Result<MemoryPlan> plan_memory(const Config& config, std::optional<MemoryLimit> detected,
                                     const MemoryPlanConstants& constants) {
  MemoryPlan plan;
  plan.per_connection = saturating_add(constants.connection_fixed_bytes,
                                       checked_multiply(4, config.socket_buffer_bytes).value_or(kSizeMax));
  const std::string per_connection_text = format_size(plan.per_connection) + " (" +
                                          format_size(constants.connection_fixed_bytes) + " state + 4 x " +
                                          format_size(config.socket_buffer_bytes) + " socket buffers)";
  if (config.admin_port) {
    const std::size_t each = saturating_add(plan.per_connection, constants.admin_buffer_bytes);
    plan.admin_memory = checked_multiply(config.admin_max_connections, each).value_or(kSizeMax);
  }

  // An explicit MAX_CONNECTIONS stands for an explicit connection budget when none is given.
  std::optional<std::size_t> explicit_connections = config.max_connection_memory_bytes;
  std::string connections_label;
  if (explicit_connections) {
    connections_label = "MAX_CONNECTION_MEMORY_BYTES " + format_size(*explicit_connections);
  } else if (config.max_connections) {
    explicit_connections = checked_multiply(*config.max_connections, plan.per_connection);
    if (!explicit_connections) {
      return base::Status::error("MAX_CONNECTIONS " + std::to_string(*config.max_connections) + " x " +
                                 per_connection_text + " does not fit in 64 bits");
    }
    connections_label = "connections " + format_size(*explicit_connections) + " (MAX_CONNECTIONS " +
                        std::to_string(*config.max_connections) + " x " + format_size(plan.per_connection) + ")";
  }
  const auto label = [](std::string_view variable, std::optional<std::size_t> bytes) {
    return bytes ? std::string(variable) + " " + format_size(*bytes) : std::string();
  };
  std::array<Share, 3> shares{{
      {"MAX_STORAGE_BYTES", config.max_storage_bytes, label("MAX_STORAGE_BYTES", config.max_storage_bytes), 50,
       256 * kMiB},
      {"MAX_INFLIGHT_BODY_BYTES", config.max_inflight_body_bytes,
       label("MAX_INFLIGHT_BODY_BYTES", config.max_inflight_body_bytes), 25, 128 * kMiB},
      {"MAX_CONNECTION_MEMORY_BYTES", explicit_connections, connections_label, 25, 256 * kMiB},
  }};
  const Share& storage = shares[0];
  const Share& inflight = shares[1];
  const Share& connections = shares[2];

  if (config.max_memory_bytes) {
    plan.limit = *config.max_memory_bytes;
    plan.limit_source = "MAX_MEMORY_BYTES";
  } else if (detected) {
    plan.limit = detected->bytes;
    plan.limit_source = detected->source;
  }
  const bool has_limit = config.max_memory_bytes || detected;
  if (has_limit) {
    if (base::Status divided = divide_limit(plan, shares); !divided) return divided;
  }
  for (Share& share : shares) {
    if (share.explicit_bytes) share.bytes = *share.explicit_bytes;
    else if (!has_limit) share.bytes = share.unlimited_default;
  }
  plan.storage = storage.bytes;
  plan.inflight_bodies = inflight.bytes;
  plan.connection_memory = connections.bytes;

  // A body is charged its bytes plus the fixed header of the value it becomes.
  const std::size_t body_room =
      plan.inflight_bodies > constants.body_overhead_bytes ? plan.inflight_bodies - constants.body_overhead_bytes : 0;
  if (config.max_body_bytes) {
    if (*config.max_body_bytes > body_room) {
      return base::Status::error("MAX_BODY_BYTES " + format_size(*config.max_body_bytes) +
                                 " is larger than the in-flight body budget " + format_size(plan.inflight_bodies) +
                                 " (" + origin(inflight, plan, has_limit) +
                                 "), so such a body could never be received");
    }
    plan.max_body_bytes = *config.max_body_bytes;
  } else {
    plan.max_body_bytes = std::min(kDefaultMaxBodyBytes, body_room);
  }

  if (config.max_connections) {
    const std::optional<std::size_t> needed = checked_multiply(*config.max_connections, plan.per_connection);
    if (!needed || *needed > plan.connection_memory) {
      return base::Status::error("MAX_CONNECTIONS " + std::to_string(*config.max_connections) + " x " +
                                 per_connection_text + " = " + format_total(needed.value_or(kSizeMax)) +
                                 " is more than the connection memory budget " +
                                 format_size(plan.connection_memory) + " (" + origin(connections, plan, has_limit) +
                                 ")");
    }
    plan.max_connections = *config.max_connections;
  } else {
    const std::size_t fitting = plan.per_connection == 0 ? kSizeMax : plan.connection_memory / plan.per_connection;
    plan.max_connections = std::min(kMaxDerivedConnections, fitting);
    if (plan.max_connections < 1) {
      return base::Status::error("the connection memory budget " + format_size(plan.connection_memory) + " (" +
                                 origin(connections, plan, has_limit) + ") is less than one connection: " +
                                 per_connection_text);
    }
  }
  return plan;
}

std::string MemoryPlan::to_json() const {
  std::string out = "{";
  append_json_key(out, "limit");
  out += std::to_string(limit);
  append_json_key(out, "limit_source");
  if (limit_source.empty()) {
    out += "null";
  } else {
    out.push_back('"');
    append_json_escaped(out, limit_source);
    out.push_back('"');
  }
  const std::pair<std::string_view, std::size_t> sizes[] = {
      {"runtime_reserve", runtime_reserve}, {"storage", storage},
      {"inflight_bodies", inflight_bodies}, {"connection_memory", connection_memory},
      {"admin_memory", admin_memory},       {"per_connection", per_connection},
      {"max_connections", max_connections}, {"max_body_bytes", max_body_bytes},
  };
  for (const auto& [key, value] : sizes) {
    append_json_key(out, key);
    out += std::to_string(value);
  }
  out.push_back('}');
  return out;
}

}  // namespace app
