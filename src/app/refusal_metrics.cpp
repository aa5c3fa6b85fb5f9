#include "app/refusal_metrics.h"

namespace app {

namespace {
constexpr std::array<std::string_view, static_cast<std::size_t>(RefusalReason::kCount)> kReasonLabels = {
    "storage_full",   "inflight_body_budget", "connection_buffer_budget", "allocation_failed",
    "body_too_large", "header_timeout",       "body_timeout",             "malformed_request",
    "misdirected"};
}  // namespace

void RefusalMetrics::count(http::Refusal refusal) noexcept {
  switch (refusal) {
    case http::Refusal::kNone: return;
    case http::Refusal::kMalformed: count(RefusalReason::kMalformed); return;
    case http::Refusal::kHeadTimeout: count(RefusalReason::kHeaderTimeout); return;
    case http::Refusal::kBodyTimeout: count(RefusalReason::kBodyTimeout); return;
    case http::Refusal::kBodyTooLarge: count(RefusalReason::kBodyTooLarge); return;
    case http::Refusal::kBodyBudget: count(RefusalReason::kInflightBodyBudget); return;
    case http::Refusal::kBufferBudget: count(RefusalReason::kConnectionBufferBudget); return;
    case http::Refusal::kAllocationFailed: count(RefusalReason::kAllocationFailed); return;
  }
}

void RefusalMetrics::collect(metrics::TextWriter& out) const {
  constexpr std::string_view kName = "storage_api_refusals_total";
  out.family(kName, "Requests and connections refused to stay within a limit (or sent to the wrong shard), by reason.", metrics::MetricType::kCounter);
  for (std::size_t i = 0; i < kReasonLabels.size(); ++i) {
    const metrics::Label labels[] = {{"reason", kReasonLabels[i]}};
    out.sample(kName, labels, static_cast<double>(counts_[i].load(std::memory_order_relaxed)));
  }
  if (!accept_rejections_) return;
  for (std::size_t i = 0; i < kAcceptRejectionLabels.size(); ++i) {
    const metrics::Label labels[] = {{"reason", kAcceptRejectionLabels[i]}};
    out.sample(kName, labels, static_cast<double>(accept_rejections_(i)));
  }
}

}  // namespace app
