#include "metrics/zeroed_pages.h"

#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

namespace metrics {
namespace {

std::size_t page_size() { return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE)); }

bool all_zero(const ZeroedPages& pages) {
  const auto* bytes = static_cast<const unsigned char*>(pages.data());
  for (std::size_t i = 0; i < pages.size(); ++i) {
    if (bytes[i] != 0) return false;
  }
  return true;
}

TEST(ZeroedPages, RoundsUpToWholePagesThatReadAsZero) {
  const ZeroedPages pages(page_size() + 1);
  ASSERT_NE(pages.data(), nullptr);
  EXPECT_EQ(pages.size(), 2 * page_size());
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(pages.data()) % page_size(), 0u);
  EXPECT_TRUE(all_zero(pages));
}

TEST(ZeroedPages, IsWritableThroughout) {
  const ZeroedPages pages(3 * page_size());
  std::memset(pages.data(), 0xab, pages.size());
  const auto* bytes = static_cast<const unsigned char*>(pages.data());
  EXPECT_EQ(bytes[0], 0xab);
  EXPECT_EQ(bytes[pages.size() - 1], 0xab);
}

TEST(ZeroedPages, ZeroBytesMapsNothing) {
  const ZeroedPages pages(0);
  EXPECT_EQ(pages.data(), nullptr);
  EXPECT_EQ(pages.size(), 0u);
}

TEST(ZeroedPages, MoveTransfersOwnership) {
  ZeroedPages first(page_size());
  void* const mapping = first.data();
  static_cast<unsigned char*>(mapping)[7] = 42;

  ZeroedPages second(std::move(first));
  EXPECT_EQ(first.data(), nullptr);  // NOLINT(bugprone-use-after-move): the moved-from state is specified
  EXPECT_EQ(first.size(), 0u);
  EXPECT_EQ(second.data(), mapping);
  EXPECT_EQ(static_cast<unsigned char*>(second.data())[7], 42);

  ZeroedPages third(page_size());
  third = std::move(second);
  EXPECT_EQ(third.data(), mapping);
  EXPECT_EQ(second.data(), nullptr);  // NOLINT(bugprone-use-after-move)
}

// The point of the type: a large mapping costs no resident memory until it is written.
TEST(ZeroedPages, UntouchedPagesAreNotResident) {
  const std::size_t pages_count = 256;
  const ZeroedPages pages(pages_count * page_size());
  std::vector<unsigned char> residency(pages_count);
  ASSERT_EQ(::mincore(pages.data(), pages.size(), residency.data()), 0);
  for (unsigned char page : residency) EXPECT_EQ(page & 1u, 0u);

  static_cast<unsigned char*>(pages.data())[5 * page_size()] = 1;
  ASSERT_EQ(::mincore(pages.data(), pages.size(), residency.data()), 0);
  EXPECT_EQ(residency[5] & 1u, 1u);
  EXPECT_EQ(residency[6] & 1u, 0u);
}

}  // namespace
}  // namespace metrics
