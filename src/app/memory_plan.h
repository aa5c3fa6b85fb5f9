#pragma once
// plan_memory: divides the process's memory limit among the budgets the server enforces, so that the
// process is refused work (507, 503, closed connections) before the kernel OOM-kills it.
//
// The limit is MAX_MEMORY_BYTES, else the detected cgroup limit, else there is none. With a limit, a runtime
// reserve of max(32MiB, limit/16) (binary, stacks, allocator slack, metric shards, log queue) and the admin
// listener's connections come off the top; budgets given explicitly are taken as they are (an explicit
// MAX_CONNECTIONS stands for MAX_CONNECTIONS x per-connection cost when MAX_CONNECTION_MEMORY_BYTES is not
// given), and the rest is shared by the others in the ratio storage 50 : in-flight bodies 25 :
// connections 25, the rounding remainder going to the first of them. Without a limit the budgets not given
// are 256MiB, 128MiB and 256MiB. MAX_BODY_BYTES defaults to 64MiB, lowered to the in-flight budget, and
// MAX_CONNECTIONS to the connection budget / per-connection cost, at most 10000.
//
// Pure: no I/O; the caller supplies the detected limit and the server's per-connection figures. Every error
// is one line naming the settings involved and, with a limit, the limit and where it came from.
#include <cstddef>
#include <optional>
#include <string>

#include "app/config.h"
#include "app/host_limits.h"
#include "base/status.h"

namespace app {

struct MemoryPlanConstants {
  std::size_t connection_fixed_bytes = 0;      // one connection's state outside the socket buffers (server)
  std::size_t admin_buffer_bytes = 64 * 1024;  // buffers of one admin connection
  std::size_t body_overhead_bytes = 0;         // charged to the in-flight budget with every body (its header)
};

struct MemoryPlan {
  std::size_t limit = 0;             // 0 = no limit
  std::string limit_source;          // "MAX_MEMORY_BYTES", "cgroup v2 memory.max", ...; empty without a limit
  std::size_t runtime_reserve = 0;   // 0 without a limit
  std::size_t storage = 0;           // MAX_STORAGE_BYTES
  std::size_t inflight_bodies = 0;   // MAX_INFLIGHT_BODY_BYTES
  std::size_t connection_memory = 0; // MAX_CONNECTION_MEMORY_BYTES
  std::size_t admin_memory = 0;      // ADMIN_MAX_CONNECTIONS x (per_connection + admin buffers); 0 without ADMIN_PORT
  std::size_t per_connection = 0;    // connection state + 4 x SOCKET_BUFFER_BYTES (send and receive, each
                                     // doubled by the kernel's accounting)
  std::size_t max_connections = 0;
  std::size_t max_body_bytes = 0;

  // A JSON object with the members above as keys (sizes in bytes; limit_source null without a limit).
  std::string to_json() const;
};

base::Result<MemoryPlan> plan_memory(const Config& config, std::optional<MemoryLimit> detected,
                                     const MemoryPlanConstants& constants);

}  // namespace app
