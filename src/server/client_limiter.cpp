#include "server/client_limiter.h"

#include <netinet/in.h>

#include <cstring>
#include <new>

namespace server {

ClientKey client_key(const sockaddr_storage& address) noexcept {
  ClientKey key;
  if (address.ss_family == AF_INET) {
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(&address);
    key.family = 4;
    key.value = ntohl(v4->sin_addr.s_addr);
  } else if (address.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&address);
    if (IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
      std::uint32_t v4 = 0;
      std::memcpy(&v4, v6->sin6_addr.s6_addr + 12, sizeof v4);
      key.family = 4;
      key.value = ntohl(v4);
    } else {
      key.family = 6;
      std::memcpy(&key.value, v6->sin6_addr.s6_addr, sizeof key.value);  // the /64 prefix
    }
  }
  return key;
}

// splitmix64 of the seeded value: the seed is random per process, so a client cannot pick addresses that
// collide in the map.
std::size_t ClientLimiter::Hash::operator()(const ClientKey& key) const noexcept {
  std::uint64_t z = key.value + seed + (static_cast<std::uint64_t>(key.family) << 56) + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return static_cast<std::size_t>(z ^ (z >> 31));
}

bool ClientLimiter::try_acquire(const ClientKey& key) noexcept {
  if (max_per_client_ == 0 || key.family == 0) return true;
  std::lock_guard lock(mutex_);
  try {
    std::uint32_t& count = map_[key];
    if (count >= max_per_client_) return false;
    ++count;
    return true;
  } catch (const std::bad_alloc&) {
    return false;  // cannot track it, so it cannot be allowed
  }
}

void ClientLimiter::release(const ClientKey& key) noexcept {
  if (max_per_client_ == 0 || key.family == 0) return;
  std::lock_guard lock(mutex_);
  const auto found = map_.find(key);
  if (found == map_.end()) return;
  if (--found->second == 0) map_.erase(found);
}

std::size_t ClientLimiter::clients() const noexcept {
  std::lock_guard lock(mutex_);
  return map_.size();
}

}  // namespace server
