#pragma once
// MemoryMetrics: the memory budget as gauges — storage_api_memory_budget_bytes{area} (what each area may
// hold) and storage_api_memory_used_bytes{area} (what it holds now), for the areas the plan divides the
// limit into, plus storage_api_inflight_body_bytes, and the stored values kept in memory files for sendfile
// (storage_api_value_files, _limit, and storage_api_value_file_refusals_total: values that stayed on the
// heap because the allowance was used up). Read from the accounts at scrape time.
#include <array>
#include <cstddef>
#include <string_view>

#include "base/memory_account.h"
#include "base/value_files.h"
#include "metrics/registry.h"

namespace app {

class MemoryMetrics final : public metrics::Collector {
 public:
  struct Area {
    std::string_view name;
    const base::MemoryAccount* account = nullptr;  // null: not in use (e.g. no admin listener)
  };
  // `total` is the whole limit (0: none, then the total's budget is the sum of the areas).
  // `value_files` null: large values are not kept in memory files.
  MemoryMetrics(std::array<Area, 4> areas, std::size_t total, const base::ValueFiles* value_files = nullptr) noexcept
      : areas_(areas), total_(total), value_files_(value_files) {}

  void collect(metrics::TextWriter& out) const override;

 private:
  std::array<Area, 4> areas_;
  std::size_t total_;
  const base::ValueFiles* value_files_;
};

}  // namespace app
