#include "app/memory_metrics.h"

namespace app {

void MemoryMetrics::collect(metrics::TextWriter& out) const {
  constexpr std::string_view kBudget = "storage_api_memory_budget_bytes";
  constexpr std::string_view kUsed = "storage_api_memory_used_bytes";
  std::size_t budget_sum = 0;
  std::size_t used_sum = 0;
  out.family(kBudget, "Memory each area of the budget may hold; total is the process's memory limit.",
             metrics::MetricType::kGauge);
  for (const Area& area : areas_) {
    if (area.account == nullptr) continue;
    budget_sum += area.account->limit();
    out.sample(kBudget, {{"area", area.name}}, static_cast<double>(area.account->limit()));
  }
  out.sample(kBudget, {{"area", "total"}}, static_cast<double>(total_ != 0 ? total_ : budget_sum));
  out.family(kUsed, "Memory each area of the budget holds now.", metrics::MetricType::kGauge);
  const base::MemoryAccount* bodies = nullptr;
  for (const Area& area : areas_) {
    if (area.account == nullptr) continue;
    used_sum += area.account->used();
    out.sample(kUsed, {{"area", area.name}}, static_cast<double>(area.account->used()));
    if (area.name == "inflight_bodies") bodies = area.account;
  }
  out.sample(kUsed, {{"area", "total"}}, static_cast<double>(used_sum));
  out.family("storage_api_inflight_body_bytes", "Request body bytes reserved for uploads being received.",
             metrics::MetricType::kGauge);
  out.sample("storage_api_inflight_body_bytes", {}, static_cast<double>(bodies ? bodies->used() : 0));
  out.family("storage_api_value_files", "Stored values kept in memory files and sent with sendfile.",
             metrics::MetricType::kGauge);
  out.sample("storage_api_value_files", {}, static_cast<double>(value_files_ ? value_files_->in_use() : 0));
  out.family("storage_api_value_files_limit", "How many values may be kept in memory files (descriptors allow).",
             metrics::MetricType::kGauge);
  out.sample("storage_api_value_files_limit", {}, static_cast<double>(value_files_ ? value_files_->max_files() : 0));
  out.family("storage_api_value_file_refusals_total",
             "Large values kept on the heap instead, because the memory-file allowance was used up.",
             metrics::MetricType::kCounter);
  out.sample("storage_api_value_file_refusals_total", {},
             static_cast<double>(value_files_ ? value_files_->refusals() : 0));
}

}  // namespace app
