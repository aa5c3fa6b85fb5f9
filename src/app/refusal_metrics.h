#pragma once
// RefusalMetrics: storage_api_refusals_total{reason}, every request or connection the service turned away
// to keep within a limit, by a closed set of reasons — so an SRE can tell a full store (507) from a spent
// in-flight budget (503), a client over its connection cap, or a slowloris cut off; and requests a router
// sent to the wrong shard (421). Connection-level
// reasons are counted here by the handlers; the server's accept-time rejections are read from it at
// scrape time through `accept_rejections`.
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string_view>

#include "http/handler.h"
#include "metrics/registry.h"

namespace app {

enum class RefusalReason : std::uint8_t {
  kStorageFull,
  kInflightBodyBudget,
  kConnectionBufferBudget,
  kAllocationFailed,
  kBodyTooLarge,
  kHeaderTimeout,
  kBodyTimeout,
  kMalformed,
  kMisdirected,  // meant for another shard (SHARD_NAME): a router's stale address
  kCount,
};

// The accept-time reasons, in server::Rejection order.
inline constexpr std::array<std::string_view, 5> kAcceptRejectionLabels = {
    "connection_limit", "client_connection_limit", "connection_memory", "out_of_file_descriptors",
    "admin_connection_limit"};

class RefusalMetrics final : public metrics::Collector {
 public:
  using AcceptRejections = std::function<std::uint64_t(std::size_t rejection_index)>;
  explicit RefusalMetrics(AcceptRejections accept_rejections = {}) : accept_rejections_(std::move(accept_rejections)) {}

  void count(RefusalReason reason) noexcept {
    counts_[static_cast<std::size_t>(reason)].fetch_add(1, std::memory_order_relaxed);
  }
  // The connection's own refusals, mapped to reasons; kNone counts nothing.
  void count(http::Refusal refusal) noexcept;
  std::uint64_t value(RefusalReason reason) const noexcept {
    return counts_[static_cast<std::size_t>(reason)].load(std::memory_order_relaxed);
  }
  void set_accept_rejections(AcceptRejections source) { accept_rejections_ = std::move(source); }

  void collect(metrics::TextWriter& out) const override;

 private:
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(RefusalReason::kCount)> counts_{};
  AcceptRejections accept_rejections_;
};

}  // namespace app
