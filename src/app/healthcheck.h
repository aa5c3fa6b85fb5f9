#pragma once
// The `storage_api --healthcheck` probe: GET /healthz on the configured port of this host, for container
// health checks in images that have no curl. Exit status 0 when the answer is 200 within the timeout, else 1.
#include <chrono>

#include "app/config.h"

namespace app {

int run_healthcheck(const Config& config, std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

}  // namespace app
