#pragma once
// MemoryMetrics: the memory budget as gauges — storage_api_memory_budget_bytes{area} (what each area may
// hold) and storage_api_memory_used_bytes{area} (what it holds now), for the areas the plan divides the
// limit into, plus storage_api_inflight_body_bytes. Read from the accounts at scrape time.
#include <array>
#include <cstddef>
#include <string_view>

#include "base/memory_account.h"
#include "metrics/registry.h"

namespace app {

class MemoryMetrics final : public metrics::Collector {
 public:
  struct Area {
    std::string_view name;
    const base::MemoryAccount* account = nullptr;  // null: not in use (e.g. no admin listener)
  };
  // `total` is the whole limit (0: none, then the total's budget is the sum of the areas).
  MemoryMetrics(std::array<Area, 4> areas, std::size_t total) noexcept : areas_(areas), total_(total) {}

  void collect(metrics::TextWriter& out) const override;

 private:
  std::array<Area, 4> areas_;
  std::size_t total_;
};

}  // namespace app
