#pragma once
// Counts heap allocations in this process — operator new, malloc, calloc and realloc — so a benchmark can
// report how many allocations one request costs (the service aims at none on the hot path besides stored
// bodies).
#include <cstdint>

namespace bench {

// Allocations since the process started (all threads).
std::uint64_t allocations() noexcept;

}  // namespace bench
