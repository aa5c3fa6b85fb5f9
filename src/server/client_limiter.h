#pragma once
// ClientLimiter: open connections per client address, shared by every event loop (SO_REUSEPORT spreads one
// client's connections across them), so no single address can hold more than its share of the slots.
// An IPv6 client is counted per /64 — one host is typically given a whole /64 — and an IPv4-mapped IPv6
// address as the IPv4 address it is. A cap of 0 turns the limiter off.
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace server {

struct ClientKey {
  std::uint64_t value = 0;
  std::uint8_t family = 0;  // 0: not counted (unknown family, or the limiter is off)
  bool operator==(const ClientKey&) const = default;
};

ClientKey client_key(const sockaddr_storage& address) noexcept;

class ClientLimiter {
 public:
  explicit ClientLimiter(std::size_t max_per_client, std::uint64_t hash_seed) noexcept
      : max_per_client_(max_per_client), map_(16, Hash{hash_seed}) {}

  // False when `key` already holds max_per_client connections (nothing changed then).
  bool try_acquire(const ClientKey& key) noexcept;
  void release(const ClientKey& key) noexcept;
  std::size_t clients() const noexcept;  // addresses holding at least one connection

 private:
  struct Hash {
    std::uint64_t seed;
    std::size_t operator()(const ClientKey& key) const noexcept;
  };

  const std::size_t max_per_client_;
  mutable std::mutex mutex_;
  std::unordered_map<ClientKey, std::uint32_t, Hash> map_;
};

}  // namespace server
